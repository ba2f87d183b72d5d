// The project definition: projen writes package.json, tsconfig files, tasks and ignore files from this.
import { awscdk, javascript, JsonFile } from 'projen';

/** Handler entry points, lambda/handlers/<name>.ts, each bundled into assets/<name>/index.js at build time. */
const HANDLERS = ['snapshot-run', 'cleanup', 'orchestrated'];

const project = new awscdk.AwsCdkConstructLibrary({
  name: 'cdk-snapshot-policy',
  description:
    'Crash-consistent multi-volume EC2 snapshot sets for tagged fleets: one construct for Regions, Local Zones and Outposts, with retention that never deletes what it should keep.',
  keywords: ['cdk', 'awscdk', 'aws-cdk', 'ec2', 'ebs', 'snapshot', 'backup', 'createsnapshots', 'retention', 'local-zones', 'outposts'],
  author: 'cdk-snapshot-policy maintainers',
  authorAddress: 'maintainers@users.noreply.github.com',
  repositoryUrl: 'https://github.com/cdk-snapshot-policy/cdk-snapshot-policy.git',
  license: 'Apache-2.0',
  stability: 'experimental',
  defaultReleaseBranch: 'main',
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,
  minNodeVersion: '20.0.0',

  // aws-scheduler and aws-scheduler-targets are stable L2 modules from this floor on.
  cdkVersion: '2.200.0',
  jsiiVersion: '~6.0.0',
  projenVersion: '0.103.25',
  typescriptVersion: '~5.9.0',

  srcdir: 'lib',
  libdir: 'out',
  entrypoint: 'out/index.js',
  testdir: 'test',

  publishToPypi: {
    distName: 'cdk-snapshot-policy',
    module: 'cdk_snapshot_policy',
  },

  // Handlers live in lambda/ and are bundled by the tasks below, not discovered in lib/.
  lambdaAutoDiscover: false,
  integrationTestAutoDiscover: false,
  github: false,
  release: false,
  depsUpgrade: false,
  pullRequestTemplate: false,

  devDeps: [
    '@aws-sdk/client-ec2',
    '@smithy/types',
    'aws-sdk-client-mock',
    'fast-check',
    'esbuild',
    '@types/aws-lambda',
    '@aws-lambda-powertools/metrics@^2',
    '@aws-sdk/client-s3',
    '@aws-sdk/client-sfn',
    'asl-validator',
  ],
  eslintOptions: {
    dirs: ['lib'],
    // Handler code is bundled at build time, so its imports are (correctly) devDependencies.
    devdirs: ['lambda', 'test', 'bench', 'demo', 'scripts'],
    tsconfigPath: './tsconfig.dev.json',
  },
  tsconfig: {
    compilerOptions: {
      lib: ['es2022'],
    },
  },
  jestOptions: {
    // jest 30 resolves modules with unrs-resolver, whose binaries for other platforms this machine's npm
    // registry mirror does not hold, so `npm ci` could not install from the lock file here: stay on 29.
    jestVersion: '^29',
    updateSnapshot: javascript.UpdateSnapshot.NEVER,
    jestConfig: {
      testTimeout: 120_000,
    },
  },
  // build/ holds the Python sources jsii-pacmak generates (see package:python); .venv-build/ the tools that pack them.
  gitignore: ['/assets/', '/.jsii.tabl.json', '/cdk.out/', '/demo/cdk.out/', '/build/', '/.venv-build/'],
});

// Pure logic and the runs that drive it never call AWS themselves: only lambda/adapters/ imports the SDK.
project.eslint?.addOverride({
  files: ['lambda/logic/**/*.ts', 'lambda/runs/**/*.ts'],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [{ group: ['@aws-sdk/*', '@smithy/*'], message: 'lambda/logic and lambda/runs take plain data: AWS calls belong in lambda/adapters' }],
    }],
  },
});
project.eslint?.addOverride({
  files: ['lambda/logic/**/*.ts'],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [
        { group: ['@aws-sdk/*', '@smithy/*'], message: 'lambda/logic takes plain data: AWS calls belong in lambda/adapters' },
        { group: ['../adapters/*', '../runs/*', '../handlers/*'], message: 'lambda/logic depends on nothing but itself and the contract' },
      ],
    }],
  },
});

// 3.8 resolves with enhanced-resolve; later versions need unrs-resolver (see jestVersion).
project.deps.removeDependency('eslint-import-resolver-typescript');
project.addDevDeps('eslint-import-resolver-typescript@~3.8.0');

// Handler bundles: ESM entry points first (mainFields module,main) let esbuild drop most of the SDK.
// Each lands in assets/<name>/index.js, which ships in the npm package and so in the Python wheel.
const bundle = project.addTask('bundle:handlers', {
  description: 'Bundle the Lambda handlers (SDK included) into assets/',
});
for (const name of HANDLERS) {
  bundle.exec(
    `esbuild lambda/handlers/${name}.ts --bundle --platform=node --target=node20 --format=cjs ` +
      `--main-fields=module,main --minify --outfile=assets/${name}/index.js`,
  );
}
project.preCompileTask.spawn(bundle);
// `npm test` on a fresh clone must find the assets the constructs point at.
project.testTask.prependSpawn(bundle);

// The handler code is part of the published package (and so of the Python wheel).
project.npmignore?.addPatterns('!/assets/', '/tsconfig.dev.json', '/build/', '/.venv-build/', '/demo/', '/bench/', '/scripts/', '/lambda/', '/examples/', '/.ci/');

// Type-check the handler, bench and demo sources too (jsii compiles only lib/).
new JsonFile(project, 'tsconfig.dev.json', {
  obj: {
    extends: './tsconfig.json',
    compilerOptions: { rootDir: '.', noEmit: true },
    include: ['lib/**/*.ts', 'lambda/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'demo/**/*.ts', 'scripts/**/*.ts'],
  },
});
project.compileTask.exec('tsc -p tsconfig.dev.json');
// typescript-eslint's project service reads the nearest tsconfig.json; these folders have none of their own.
for (const dir of ['lambda', 'bench', 'demo', 'scripts']) {
  new JsonFile(project, `${dir}/tsconfig.json`, {
    obj: { extends: '../tsconfig.dev.json', compilerOptions: { rootDir: '..' }, include: ['**/*.ts', '../lib/**/*.ts', '../test/support/**/*.ts', '../lambda/**/*.ts'] },
  });
}

project.addTask('demo', {
  description: 'Synthesize the example app and run its handler assets against a local EC2 emulator',
  steps: [{ spawn: 'bundle:handlers' }, { exec: 'ts-node --transpile-only demo/main.ts' }],
});

project.addTask('bench:bundle', {
  description: 'Print the size and load time of the handler bundled with ESM and with CommonJS entry points',
  exec: 'ts-node --transpile-only bench/bundle-size.ts',
});

// The wheel and sdist land in dist/python, as with jsii-pacmak's own Python step (and where publib uploads
// from), but are packed with the build tools of the local package indexes: pacmak's step pins versions they do
// not hold and fetches them from PyPI. `package-all`, and so `build` outside CI, spawns this task.
const packagePython = project.tasks.tryFind('package:python');
if (!packagePython) throw new Error('projen no longer defines package:python: see scripts/package-python.sh');
packagePython.reset('bash scripts/package-python.sh');
packagePython.description = 'Create the Python wheel and sdist in dist/python (code from jsii-pacmak, packed with the local build tools)';

// README's TypeScript examples must compile (against rosetta/default.ts-fixture); reads the .jsii of the
// last compile and writes .jsii.tabl.json beside it, from which pacmak translates them for Python.
project.addTask('rosetta', {
  description: 'Compile the TypeScript examples of README.md and doc comments (jsii-rosetta extract --strict)',
  exec: 'jsii-rosetta extract --strict --verbose .jsii',
});

project.addTask('test:consumer', {
  description: 'Install the packed library (dist/js) in a fresh CDK app: type check, synth without Docker or esbuild, cdk-nag, cfn-lint, stable asset hashes',
  exec: 'bash scripts/consumer-test.sh',
});

project.addTask('check:python-example', {
  description: 'Check examples/python/app.py against the Python module in the wheel of dist/python (after package:python)',
  exec: 'python3 scripts/check-python-example.py --self-test',
});

project.synth();
