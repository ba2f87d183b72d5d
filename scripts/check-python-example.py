#!/usr/bin/env python3
"""Checks a Python example against the generated Python module of this library, without running it.

This machine has no Python aws-cdk-lib or jsii runtime, so the example cannot be synthesized. Instead the
example is parsed (`ast.parse`) and every name it takes from `cdk_snapshot_policy` is looked up in the
module jsii-pacmak generated, read from the wheel a user installs (dist/python/*.whl, from
`npx projen package:python`) and also parsed with `ast`: imported names, classes, enum members, static
factories and properties, and the keyword arguments of constructors and factories (unknown ones, and
missing required ones). Attributes of variables assigned from a constructor or factory are checked too.

Usage: check-python-example.py [EXAMPLE.py ...] [--module WHEEL_OR_INIT_PY] [--self-test]
Exit status 1 on any problem.
"""
import argparse
import ast
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

MODULE_NAME = "cdk_snapshot_policy"
ROOT = Path(__file__).resolve().parent.parent
WHEEL_DIR = ROOT / "dist/python"
MODULE_IN_WHEEL = f"{MODULE_NAME}/__init__.py"
DEFAULT_EXAMPLES = [ROOT / "examples/python/app.py"]
# Members a class inherits from constructs.Construct (the only base outside the module).
CONSTRUCT_MEMBERS = {"node", "to_string", "with_", "is_construct"}


@dataclass
class Callable:
    """A constructor or method: its positional parameters and keyword parameters (name -> required)."""
    positional: list
    keywords: dict
    returns: str | None = None


@dataclass
class ModuleClass:
    name: str
    bases: list
    is_enum: bool = False
    members: dict = field(default_factory=dict)  # name -> Callable | None (None: property or enum member)
    init: Callable | None = None


def signature(fn: ast.FunctionDef) -> Callable:
    args = fn.args
    positional = [a.arg for a in args.posonlyargs + args.args if a.arg not in ("self", "cls")]
    keywords = {}
    # Positional-or-keyword parameters can be given by keyword too; their defaults align to the end.
    pos_params = [a for a in args.posonlyargs + args.args if a.arg not in ("self", "cls")]
    first_default = len(pos_params) - len(args.defaults)
    for i, a in enumerate(pos_params):
        keywords[a.arg] = i < first_default
    for a, default in zip(args.kwonlyargs, args.kw_defaults):
        keywords[a.arg] = default is None
    returns = None
    if isinstance(fn.returns, ast.Constant) and isinstance(fn.returns.value, str):
        returns = fn.returns.value
    elif isinstance(fn.returns, ast.Name):
        returns = fn.returns.id
    return Callable(positional, keywords, returns)


def module_source(path: Path) -> tuple[str, str]:
    """The generated module's text and a name for it, from a wheel or from an __init__.py."""
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            return wheel.read(MODULE_IN_WHEEL).decode(), f"{path}!{MODULE_IN_WHEEL}"
    return path.read_text(), str(path)


def load_module(path: Path) -> tuple[dict, set]:
    """The public classes of the generated module, and its __all__."""
    source, filename = module_source(path)
    tree = ast.parse(source, filename=filename)
    classes, exported = {}, set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            exported = {e.value for e in node.value.elts if isinstance(e, ast.Constant)}
        if not isinstance(node, ast.ClassDef) or node.name.startswith("_"):
            continue
        bases = [ast.unparse(b) for b in node.bases]
        cls = ModuleClass(node.name, bases, is_enum=any(b in ("enum.Enum", "Enum") for b in bases))
        for item in node.body:
            if isinstance(item, ast.FunctionDef):
                if item.name == "__init__":
                    cls.init = signature(item)
                elif not item.name.startswith("_"):
                    decorators = {ast.unparse(d) for d in item.decorator_list}
                    is_property = any(d.endswith("property") for d in decorators)
                    cls.members[item.name] = None if is_property else signature(item)
            elif isinstance(item, ast.Assign) and cls.is_enum:
                for t in item.targets:
                    if isinstance(t, ast.Name) and not t.id.startswith("_"):
                        cls.members[t.id] = None
        classes[node.name] = cls
    return classes, exported


class Checker(ast.NodeVisitor):
    def __init__(self, classes: dict, exported: set, filename: str):
        self.classes, self.exported, self.filename = classes, exported, filename
        self.aliases = {}       # local name -> class name in the module
        self.module_aliases = set()  # local names bound to the module itself
        self.var_types = {}     # local variable -> class name in the module
        self.problems, self.checked = [], []

    def problem(self, node, message):
        self.problems.append(f"{self.filename}:{getattr(node, 'lineno', '?')}: {message}")

    def ok(self, what):
        if what not in self.checked:
            self.checked.append(what)

    # imports
    def visit_ImportFrom(self, node):
        if node.module == MODULE_NAME:
            for alias in node.names:
                if alias.name == "*":
                    self.problem(node, f"`from {MODULE_NAME} import *` cannot be checked")
                elif alias.name not in self.classes or (self.exported and alias.name not in self.exported):
                    self.problem(node, f"{MODULE_NAME} has no public name {alias.name}")
                else:
                    self.aliases[alias.asname or alias.name] = alias.name
                    self.ok(f"import {alias.name}")
        elif node.module and node.module.startswith(MODULE_NAME + "."):
            self.problem(node, f"{node.module}: {MODULE_NAME} has no submodules")
        self.generic_visit(node)

    def visit_Import(self, node):
        for alias in node.names:
            if alias.name == MODULE_NAME:
                self.module_aliases.add(alias.asname or alias.name)
            elif alias.name.startswith(MODULE_NAME + "."):
                self.problem(node, f"{alias.name}: {MODULE_NAME} has no submodules")
        self.generic_visit(node)

    # resolution
    def resolve_class(self, expr):
        """The module class an expression names (`SnapshotPolicy`, `csp.SnapshotPolicy`), or None."""
        if isinstance(expr, ast.Name):
            return self.aliases.get(expr.id)
        if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id in self.module_aliases:
            if expr.attr not in self.classes:
                self.problem(expr, f"{MODULE_NAME} has no public name {expr.attr}")
                return None
            return expr.attr
        return None

    def type_of(self, expr):
        """The module class of a value: a variable we tracked, a constructor call or a factory call."""
        if isinstance(expr, ast.Name):
            return self.var_types.get(expr.id)
        if isinstance(expr, ast.Call):
            cls = self.resolve_class(expr.func)
            if cls:
                return cls
            if isinstance(expr.func, ast.Attribute):
                owner = self.resolve_class(expr.func.value)
                member = self.classes[owner].members.get(expr.func.attr) if owner else None
                if isinstance(member, Callable) and member.returns in self.classes:
                    return member.returns
        return None

    def check_call(self, node: ast.Call, fn: Callable, what: str):
        if len(node.args) > len(fn.positional):
            self.problem(node, f"{what} takes {len(fn.positional)} positional argument(s), got {len(node.args)}")
        given = set(fn.positional[: len(node.args)])
        for kw in node.keywords:
            if kw.arg is None:
                self.problem(node, f"{what}(**...) cannot be checked")
                continue
            if kw.arg not in fn.keywords:
                self.problem(kw.value, f"{what} has no keyword argument {kw.arg}")
            else:
                self.ok(f"{what}({kw.arg}=)")
            given.add(kw.arg)
        for name, required in fn.keywords.items():
            if required and name not in given:
                self.problem(node, f"{what} requires {name}")

    # checks
    def visit_Call(self, node):
        cls = self.resolve_class(node.func)
        if cls:
            init = self.classes[cls].init
            if self.classes[cls].is_enum or init is None:
                self.problem(node, f"{cls} cannot be constructed")
            else:
                self.check_call(node, init, cls)
                self.ok(f"{cls}()")
        elif isinstance(node.func, ast.Attribute):
            owner = self.resolve_class(node.func.value) or self.type_of(node.func.value)
            if owner:
                member = self.classes[owner].members.get(node.func.attr)
                if isinstance(member, Callable):
                    self.check_call(node, member, f"{owner}.{node.func.attr}")
        self.generic_visit(node)

    def visit_Attribute(self, node):
        owner = self.resolve_class(node.value)
        kind = "class"
        if owner is None:
            owner, kind = self.type_of(node.value), "instance"
        if owner:
            cls = self.classes[owner]
            inherited = CONSTRUCT_MEMBERS if any("Construct" in b for b in cls.bases) else set()
            if node.attr in cls.members or node.attr in inherited:
                self.ok(f"{owner}.{node.attr}")
            else:
                self.problem(node, f"{owner} ({kind}) has no member {node.attr}")
        self.generic_visit(node)

    def visit_Assign(self, node):
        self.visit(node.value)
        value_type = self.type_of(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name):
                if value_type:
                    self.var_types[target.id] = value_type
                else:
                    self.var_types.pop(target.id, None)
            else:
                self.visit(target)

    def visit_For(self, node):
        # `for name, policy in (("A", a), ("B", b))`: a loop variable takes the type its values all share.
        if isinstance(node.iter, (ast.Tuple, ast.List)):
            rows = node.iter.elts
            targets = node.target.elts if isinstance(node.target, ast.Tuple) else [node.target]
            for i, target in enumerate(targets):
                if not isinstance(target, ast.Name):
                    continue
                values = []
                for row in rows:
                    items = row.elts if isinstance(node.target, ast.Tuple) and isinstance(row, ast.Tuple) else [row]
                    values.append(self.type_of(items[i]) if i < len(items) else None)
                if values and values[0] and all(v == values[0] for v in values):
                    self.var_types[target.id] = values[0]
        self.generic_visit(node)


def check(source: str, filename: str, classes: dict, exported: set) -> Checker:
    checker = Checker(classes, exported, filename)
    try:
        tree = ast.parse(source, filename=filename)
        compile(tree, filename, "exec")
    except SyntaxError as e:
        checker.problems.append(f"{filename}:{e.lineno}: syntax error: {e.msg}")
        return checker
    checker.visit(tree)
    if not any(c.startswith("import ") for c in checker.checked) and not checker.module_aliases:
        checker.problems.append(f"{filename}: does not import {MODULE_NAME}")
    return checker


# Each mutation of a correct example must be caught: the checker's own control.
SELF_TESTS = [
    ("unknown keyword argument", "instance_tags=", "instance_tag_map="),
    ("missing required keyword", 'instance_tags={"Backup": "nightly", "Role": "web"},', ""),
    ("unknown factory", "Retention.keep(", "Retention.keep_rules("),
    ("unknown factory keyword", "monthly=12", "months=12"),
    ("unknown enum member", "SnapshotDestination.LOCAL", "SnapshotDestination.LOCAL_ZONE"),
    ("unknown imported name", "import Retention,", "import RetentionRules,"),
    ("unknown instance property", "policy.policy_id", "policy.policy_name"),
    ("syntax error", "app = App()", "app = App("),
]


def self_test(example: Path, classes: dict, exported: set) -> list:
    source = example.read_text()
    failures = []
    for name, old, new in SELF_TESTS:
        if old not in source:
            failures.append(f"self-test '{name}': {old!r} not in {example}")
            continue
        result = check(source.replace(old, new, 1), f"{example.name} ({name})", classes, exported)
        if result.problems:
            print(f"  caught {name}: {result.problems[0]}")
        else:
            failures.append(f"self-test '{name}': the checker did not catch it")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", nargs="*", type=Path, default=DEFAULT_EXAMPLES)
    parser.add_argument("--module", type=Path, help="a wheel or the module's __init__.py (default: the wheel in dist/python)")
    parser.add_argument("--self-test", action="store_true", help="also check that mutated examples are caught")
    args = parser.parse_args()

    if args.module is None:
        wheels = sorted(WHEEL_DIR.glob("*.whl"))
        if len(wheels) != 1:
            print(f"expected one wheel in {WHEEL_DIR}, found {len(wheels)}: run `npx projen package:python` first",
                  file=sys.stderr)
            return 1
        args.module = wheels[0]
    if not args.module.exists():
        print(f"{args.module} not found: run `npx projen package:python` first", file=sys.stderr)
        return 1
    classes, exported = load_module(args.module)
    print(f"module {args.module.relative_to(ROOT) if args.module.is_relative_to(ROOT) else args.module}: "
          f"classes {', '.join(sorted(classes))}")
    problems = []
    for example in args.examples:
        result = check(example.read_text(), str(example.relative_to(ROOT) if example.is_relative_to(ROOT) else example),
                       classes, exported)
        print(f"{result.filename}: syntax ok, {len(result.checked)} names checked: {', '.join(result.checked)}")
        problems += result.problems
        if args.self_test:
            problems += self_test(example, classes, exported)
    for p in problems:
        print(f"PROBLEM {p}", file=sys.stderr)
    print(f"{'FAILED' if problems else 'ok'}: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
