"""``where:`` filters: a small, safe expression language over stored columns, compiled to Arrow.

``quality_score >= 0.5 and language == "en"`` is parsed with Python's own :mod:`ast` (so the
syntax is the familiar one) and compiled to a :mod:`pyarrow.compute` expression, which filters a
whole row group at once. Nothing is ``eval``-ed. Allowed: comparisons (chained too), ``and``,
``or``, ``not``, ``in [..]``, ``not in [..]``, ``is None`` / ``is not None``, column names and
literals.
"""
from __future__ import annotations

import ast
import difflib

import pyarrow.compute as pc


class WhereError(ValueError):
    """A ``where:`` expression that does not parse or names a column the source lacks."""


_CMP = {ast.Eq: "__eq__", ast.NotEq: "__ne__", ast.Lt: "__lt__", ast.LtE: "__le__", ast.Gt: "__gt__", ast.GtE: "__ge__"}


def columns_of(expr: str) -> list[str]:
    """The column names an expression reads (in order of appearance)."""
    tree = _parse(expr)
    seen: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in ("None", "True", "False") and node.id not in seen:
            seen.append(node.id)
    return seen


def compile_where(expr: str, available: list[str] | None = None) -> pc.Expression:
    """Compile ``expr`` to an Arrow expression; with ``available``, unknown columns are errors."""
    tree = _parse(expr)
    if available is not None:
        for c in columns_of(expr):
            if c not in available:
                close = difflib.get_close_matches(c, available, n=2, cutoff=0.6)
                hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
                raise WhereError(f"column {c!r} is not stored in this source{hint}; "
                                 f"stored columns: {', '.join(available)}")
    return _compile(tree.body, expr)


def _parse(expr: str) -> ast.Expression:
    try:
        return ast.parse(expr, mode="eval")
    except SyntaxError as e:
        raise WhereError(f"{expr!r} does not parse ({e.msg}); write e.g. \"quality_score >= 0.5 and lang == 'en'\"") from None


def _literal(node: ast.AST, expr: str):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return -node.operand.value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [_literal(e, expr) for e in node.elts]
    raise WhereError(f"{expr!r}: expected a literal value, got {ast.unparse(node)!r}")


def _operand(node: ast.AST, expr: str):
    if isinstance(node, ast.Name):
        return pc.field(node.id)
    return pc.scalar(_literal(node, expr))


def _compile(node: ast.AST, expr: str) -> pc.Expression:
    if isinstance(node, ast.BoolOp):
        parts = [_compile(v, expr) for v in node.values]
        out = parts[0]
        for p in parts[1:]:
            out = (out & p) if isinstance(node.op, ast.And) else (out | p)
        return out
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return ~_compile(node.operand, expr)
    if isinstance(node, ast.Compare):
        out = None
        left = node.left
        for op, right in zip(node.ops, node.comparators):
            if isinstance(op, (ast.In, ast.NotIn)):
                values = _literal(right, expr)
                if not isinstance(values, list):
                    raise WhereError(f"{expr!r}: 'in' needs a list, e.g. lang in ['en', 'de']")
                e = pc.field(left.id).isin(values) if isinstance(left, ast.Name) else None
                if e is None:
                    raise WhereError(f"{expr!r}: the left side of 'in' must be a column")
                e = ~e if isinstance(op, ast.NotIn) else e
            elif isinstance(op, (ast.Is, ast.IsNot)):
                if not (isinstance(left, ast.Name) and isinstance(right, ast.Constant) and right.value is None):
                    raise WhereError(f"{expr!r}: only 'COLUMN is None' / 'is not None' are supported")
                e = pc.field(left.id).is_null()
                e = ~e if isinstance(op, ast.IsNot) else e
            elif type(op) in _CMP:
                e = getattr(_operand(left, expr), _CMP[type(op)])(_operand(right, expr))
            else:
                raise WhereError(f"{expr!r}: operator {type(op).__name__} is not supported")
            out = e if out is None else out & e
            left = right
        return out
    if isinstance(node, ast.Name):
        return pc.field(node.id) == pc.scalar(True)
    raise WhereError(f"{expr!r}: {ast.unparse(node)!r} is not a filter (use comparisons joined by and/or)")
