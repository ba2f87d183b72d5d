#!/usr/bin/env bash
# Installs the packed library into a fresh CDK TypeScript app, as a user would, and checks what a user's
# `cdk synth` gets: the app type-checks against the published .d.ts, synth needs neither Docker nor
# esbuild, cdk-nag's AwsSolutions pack has no unacknowledged finding, cfn-lint passes the templates, and
# a second synth gives identical asset hashes.
#
# Uses dist/js/*.tgz (from `npx projen package:js`); without one, packs the built package (out/, assets/).
# Environment: CONSUMER_DIR (work folder, default a new temp folder), KEEP_CONSUMER_DIR=1 (keep it after
# success; it is always kept after a failure), CONSUMER_AWS_CDK_LIB (default 2.276.0).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
export CI=true JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1
export CDK_DISABLE_VERSION_CHECK=true CDK_DISABLE_CLI_TELEMETRY=true
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

AWS_CDK_LIB=${CONSUMER_AWS_CDK_LIB:-2.276.0}
# The registry's `latest` tag of aws-cdk is 3.0.0, an old line that cannot read current cloud assemblies.
AWS_CDK_CLI='^2.1148'
CDK_NAG='^3'
REGION=eu-west-1   # the consumer stack's env, so cfn-lint checks the region the template is for

summary=()
step_start=0
step() { step_start=$SECONDS; echo; echo "== $*"; }
done_step() { summary+=("ok   $(printf '%4ss' $((SECONDS - step_start)))  $*"); }
fail() { echo "FAIL: $*" >&2; exit 1; }

work=${CONSUMER_DIR:-$(mktemp -d -t consumer-test.XXXXXX)}
mkdir -p "$work"
finish() {
  local rc=$?
  echo
  echo "== summary (work folder: $work)"
  printf '  %s\n' "${summary[@]}"
  if [ $rc -eq 0 ]; then
    echo "consumer test passed"
    [ "${KEEP_CONSUMER_DIR:-}" = 1 ] || [ -n "${CONSUMER_DIR:-}" ] || rm -rf "$work"
  else
    echo "consumer test FAILED (exit $rc); work folder kept: $work" >&2
  fi
}
trap finish EXIT

step "package"
tarball=$(ls -t dist/js/*.tgz 2>/dev/null | head -n 1 || true)
if [ -z "$tarball" ]; then
  [ -f out/index.js ] && [ -f assets/snapshot-run/index.js ] && [ -f assets/cleanup/index.js ] && [ -f assets/orchestrated/index.js ] ||
    fail "no dist/js/*.tgz and no built package: run npx projen bundle:handlers && npx projen compile first"
  tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
  tarball="$work/$tarball"
fi
cp "$tarball" "$work/cdk-snapshot-policy.tgz"
tar -tzf "$work/cdk-snapshot-policy.tgz" > "$work/tarball-files.txt"
for f in package/out/index.js package/out/index.d.ts package/assets/snapshot-run/index.js package/assets/cleanup/index.js package/assets/orchestrated/index.js package/.jsii; do
  grep -qx "$f" "$work/tarball-files.txt" || fail "$f missing from $tarball"
done
echo "using $tarball ($(wc -l < "$work/tarball-files.txt") files)"
done_step "package: $tarball"

step "fresh consumer app in $work"
cd "$work"
cat > package.json <<EOF
{
  "name": "snapshot-policy-consumer",
  "version": "0.0.0",
  "private": true,
  "dependencies": {
    "aws-cdk-lib": "$AWS_CDK_LIB",
    "constructs": "^10.5.1",
    "cdk-snapshot-policy": "file:./cdk-snapshot-policy.tgz",
    "cdk-nag": "$CDK_NAG"
  },
  "devDependencies": {
    "aws-cdk": "$AWS_CDK_CLI",
    "typescript": "~5.9.0",
    "ts-node": "^10.9.2",
    "@types/node": "^20"
  }
}
EOF
cat > tsconfig.json <<'EOF'
{
  "compilerOptions": {
    "target": "ES2022",
    "module": "commonjs",
    "lib": ["es2022"],
    "strict": true,
    "noUnusedLocals": true,
    "noImplicitReturns": true,
    "esModuleInterop": true,
    "types": ["node"],
    "noEmit": true
  },
  "include": ["app.ts"]
}
EOF
# ts-node only transpiles: the type check is its own step below, done once.
cat > cdk.json <<'EOF'
{
  "app": "npx ts-node --transpile-only app.ts",
  "context": { "cli-telemetry": false }
}
EOF
cp "$repo/scripts/consumer/app.ts.in" app.ts
rm -rf node_modules package-lock.json
npm install --no-audit --no-fund --loglevel=error 2>&1 | grep -v 'Unknown user config' || true
[ -d node_modules/cdk-snapshot-policy ] || fail "npm install did not install cdk-snapshot-policy"
installed() { node -p "require('./node_modules/$1/package.json').version"; }
echo "installed: aws-cdk-lib $(installed aws-cdk-lib), cdk-nag $(installed cdk-nag), aws-cdk (CLI) $(installed aws-cdk), cdk-snapshot-policy $(installed cdk-snapshot-policy)"
done_step "npm install: aws-cdk-lib $(installed aws-cdk-lib), aws-cdk CLI $(installed aws-cdk), cdk-nag $(installed cdk-nag)"

step "type-check app.ts against the published types"
npx tsc -p tsconfig.json
done_step "tsc --noEmit app.ts (strict)"

# Shims that shadow any docker or esbuild on PATH: each call is logged and fails. Neither may be installed
# in the app either, since npx puts node_modules/.bin ahead of PATH.
shims="$work/shims"
calls="$work/docker-esbuild-calls.log"
mkdir -p "$shims"
: > "$calls"
for tool in docker esbuild; do
  printf '#!/bin/sh\necho "%s $*" >> "%s"\nexit 1\n' "$tool" "$calls" > "$shims/$tool"
  chmod +x "$shims/$tool"
done
for p in node_modules/esbuild node_modules/@esbuild node_modules/.bin/esbuild node_modules/.bin/docker; do
  [ ! -e "$p" ] || fail "$p is installed in the consumer app; the check for esbuild-free synth would be void"
done
synth() {
  PATH="$shims:$PATH" npx cdk synth --no-notices --quiet --output "$1"
}

step "cdk synth (no docker, no esbuild; cdk-nag AwsSolutions as a validation plugin)"
synth cdk.out.1
[ -s "$calls" ] && { cat "$calls"; fail "synth called docker or esbuild"; }
templates=(cdk.out.1/*.template.json)
[ -f "${templates[0]}" ] || fail "no template in cdk.out.1"
echo "templates: ${templates[*]}"
done_step "cdk synth: ${#templates[@]} template(s), docker/esbuild calls: 0, cdk-nag: no unacknowledged finding"

step "cdk-nag report"
# CDK writes its validation plugins' reports (cdk-nag 3 is one) into the cloud assembly; a plugin that
# found nothing is not listed. The control run, without the app's acknowledgments, shows the check bites.
report_check() {
  node - "$1" "$2" <<'EOF'
const fs = require('fs');
const [dir, expect] = process.argv.slice(2);
const file = `${dir}/validation-report.json`;
const plugins = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')).pluginReports ?? [] : [];
const findings = [];
for (const p of plugins) {
  for (const v of p.violations ?? []) {
    for (const c of v.violatingConstructs ?? v.violatingResources ?? [{}]) findings.push(`${p.pluginName}: ${v.ruleName} at ${c.constructPath}`);
  }
}
if (expect === 'clean') {
  findings.forEach((f) => console.log(`  ${f}`));
  console.log(`${dir}: ${findings.length} unresolved finding(s)`);
  process.exit(findings.length === 0 ? 0 : 1);
}
const nag = findings.filter((f) => f.startsWith('AwsSolutions: '));
const rules = [...new Set(nag.map((f) => f.replace(/^AwsSolutions: (\S+) at .*/, '$1')))].sort();
console.log(`control run without acknowledgments: ${nag.length} AwsSolutions finding(s), rules: ${rules.join(' ')}`);
process.exit(nag.length > 0 ? 0 : 1);
EOF
}
report_check cdk.out.1 clean
if PATH="$shims:$PATH" npx cdk synth --no-notices --quiet --output cdk.out.control -c consumer:acknowledge=false > control.log 2>&1; then
  fail "the control synth without acknowledgments passed: cdk-nag is not running"
fi
report_check cdk.out.control control || { tail -n 40 control.log; fail "the control synth failed for another reason (above)"; }
done_step "cdk-nag AwsSolutionsChecks: 0 unresolved findings (control run without acknowledgments fails as it must)"

step "the Lambda assets are the prebuilt handler bundles"
node - <<'EOF'
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const sha = (f) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const shipped = new Map(['snapshot-run', 'cleanup', 'orchestrated'].map((n) => [sha(`node_modules/cdk-snapshot-policy/assets/${n}/index.js`), n]));
const found = new Set();
for (const dir of fs.readdirSync('cdk.out.1').filter((d) => d.startsWith('asset.'))) {
  const files = fs.readdirSync(path.join('cdk.out.1', dir));
  const name = shipped.get(files.length === 1 && files[0] === 'index.js' ? sha(path.join('cdk.out.1', dir, 'index.js')) : '');
  if (!name) { console.error(`unexpected asset ${dir}: ${files.join(', ')}`); process.exit(1); }
  found.add(name);
}
for (const name of shipped.values()) if (!found.has(name)) { console.error(`no asset holds the ${name} bundle`); process.exit(1); }
console.log(`asset folders hold exactly the shipped bundles: ${[...found].join(', ')}`);
EOF
done_step "assets: exactly the shipped snapshot-run, cleanup and orchestrated bundles"

step "cfn-lint (ignoring W3005 only)"
command -v cfn-lint >/dev/null || fail "cfn-lint is not installed"
echo "$(cfn-lint --version)"
# Informational findings count too; W3005 (DependsOn already implied by a reference) is CDK's own noise.
cfn-lint --format parseable --include-checks I --ignore-checks W3005 --regions "$REGION" -- "${templates[@]}" ||
  fail "cfn-lint reported findings (above)"
echo "cfn-lint: no findings"
done_step "cfn-lint $(cfn-lint --version | awk '{print $2}'): 0 findings (W3005 ignored) on ${#templates[@]} template(s)"

step "second synth into another folder: same asset hashes"
synth cdk.out.2
[ -s "$calls" ] && { cat "$calls"; fail "second synth called docker or esbuild"; }
node - <<'EOF'
const fs = require('fs');
const hashes = (dir) => {
  const out = {};
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.assets.json')).sort()) {
    const m = JSON.parse(fs.readFileSync(`${dir}/${f}`, 'utf8'));
    out[f] = { files: Object.keys(m.files ?? {}).sort(), dockerImages: Object.keys(m.dockerImages ?? {}).sort() };
  }
  return out;
};
const [a, b] = [hashes('cdk.out.1'), hashes('cdk.out.2')];
const fileAssets = Object.values(a).flatMap((x) => x.files);
console.log(`synth 1: ${fileAssets.length} file assets: ${fileAssets.join(' ')}`);
if (JSON.stringify(a) !== JSON.stringify(b)) {
  console.error(`asset hashes differ between synths:\n${JSON.stringify(a, null, 1)}\n${JSON.stringify(b, null, 1)}`);
  process.exit(1);
}
for (const f of fs.readdirSync('cdk.out.1').filter((f) => f.endsWith('.template.json'))) {
  if (fs.readFileSync(`cdk.out.1/${f}`, 'utf8') !== fs.readFileSync(`cdk.out.2/${f}`, 'utf8')) {
    console.error(`${f} differs between synths`);
    process.exit(1);
  }
}
console.log('synth 2: identical asset hashes and byte-identical templates');
EOF
done_step "determinism: identical asset hashes and templates across two synths"
