"""The small expression language of rules.yaml, parsed into our own typed tree.

Admins write conditions such as `100 * longest_run_m > threshold * run_m`. Python's parser
reads the text (it gives exact columns for errors), but nothing is ever evaluated by Python:
only a whitelist of node kinds (numbers, names, + - * /, comparisons, and/or/not, calls to the
engine's own functions) is turned into `Expr` nodes, and everything else is refused. The same
tree evaluates over numpy arrays, so one condition covers every athlete-week at once.

Integer metrics stay integers through + - * (exact); `/` gives a float. A single division of
integers compared with a decimal threshold is still exact (both sides round the same real
number), but chains of float operations are not, so conditions are best written by
cross-multiplying, as the shipped rules do.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

MAX_EXPRESSION_CHARS = 500

ValueType = Literal["num", "bool", "date", "text"]
ArgKind = Literal["series", "count", "num"]


class ExpressionError(Exception):
    """A problem at character `offset` of the expression text."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


@dataclass(frozen=True)
class FunctionSpec:
    """An engine function callable from YAML: its argument kinds and, for counts, the range."""

    args: tuple[ArgKind, ...]
    returns: ValueType
    count_range: tuple[int, int] = (1, 365)
    doc: str = ""


class Scope(Protocol):
    """What names mean while compiling one rule."""

    def name_type(self, name: str) -> ValueType | None: ...
    def is_series(self, name: str) -> bool: ...
    def is_param(self, name: str) -> bool: ...
    def function(self, name: str) -> FunctionSpec | None: ...
    def suggestions(self) -> list[str]: ...


class Env(Protocol):
    def name(self, name: str) -> Any: ...
    def param(self, name: str) -> Any: ...
    def call(self, function: str, args: list[Any]) -> Any: ...


@dataclass(frozen=True)
class Expr:
    type: ValueType
    names: frozenset[str]

    def evaluate(self, env: Env) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class Number(Expr):
    value: float | int

    def evaluate(self, env: Env) -> Any:
        return self.value


@dataclass(frozen=True)
class Name(Expr):
    name: str

    def evaluate(self, env: Env) -> Any:
        return env.name(self.name)


@dataclass(frozen=True)
class CountParam(Expr):
    """A parameter used as a window length; its value is checked to be a whole number."""

    name: str

    def evaluate(self, env: Env) -> Any:
        return env.param(self.name)


@dataclass(frozen=True)
class Call(Expr):
    function: str
    args: tuple[Expr | str, ...]

    def evaluate(self, env: Env) -> Any:
        values = [a if isinstance(a, str) else a.evaluate(env) for a in self.args]
        return env.call(self.function, values)


_ARITHMETIC: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
}


@dataclass(frozen=True)
class Binary(Expr):
    op: Callable[[Any, Any], Any]
    left: Expr
    right: Expr

    def evaluate(self, env: Env) -> Any:
        return self.op(self.left.evaluate(env), self.right.evaluate(env))


@dataclass(frozen=True)
class Negate(Expr):
    operand: Expr

    def evaluate(self, env: Env) -> Any:
        value = self.operand.evaluate(env)
        return np.logical_not(value) if self.type == "bool" else np.negative(value)


@dataclass(frozen=True)
class Logical(Expr):
    all_of: bool
    operands: tuple[Expr, ...]

    def evaluate(self, env: Env) -> Any:
        combine = np.logical_and if self.all_of else np.logical_or
        result = self.operands[0].evaluate(env)
        for operand in self.operands[1:]:
            result = combine(result, operand.evaluate(env))
        return result


def _names(*parts: Expr) -> frozenset[str]:
    return frozenset().union(*(p.names for p in parts))


class _Compiler:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def fail(self, node: ast.AST, message: str) -> ExpressionError:
        return ExpressionError(getattr(node, "col_offset", 0), message)

    def numeric(self, node: ast.expr, what: str) -> Expr:
        expr = self.compile(node)
        if expr.type != "num":
            raise self.fail(node, f"{what} must be a number, not a {_TYPE_WORDS[expr.type]}")
        return expr

    def compile(self, node: ast.expr) -> Expr:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, int | float):
                raise self.fail(node, f"only numbers may be written literally, not {node.value!r}")
            return Number("num", frozenset(), node.value)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            left = self.numeric(node.left, "each side of an arithmetic operator")
            right = self.numeric(node.right, "each side of an arithmetic operator")
            return Binary("num", _names(left, right), _ARITHMETIC[type(node.op)], left, right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            operand = self.numeric(node.operand, "the operand of '-'")
            return Negate("num", operand.names, operand)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            operand = self.compile(node.operand)
            if operand.type != "bool":
                raise self.fail(node, "'not' needs a condition, e.g. not (run_m > 0)")
            return Negate("bool", operand.names, operand)
        if isinstance(node, ast.BoolOp):
            operands = tuple(self.compile(v) for v in node.values)
            for value, operand in zip(node.values, operands, strict=True):
                if operand.type != "bool":
                    raise self.fail(value, "'and'/'or' join conditions, e.g. a > 1 and b < 2")
            all_of = isinstance(node.op, ast.And)
            return Logical("bool", _names(*operands), all_of, operands)
        if isinstance(node, ast.Compare):
            return self.comparison(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise self.fail(node, f"{_describe(node)} is not allowed in a rule expression")

    def comparison(self, node: ast.Compare) -> Expr:
        sides = [self.numeric(node.left, "each side of a comparison")]
        parts: list[Expr] = []
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if type(op) not in _COMPARE:
                raise self.fail(node, "use one of > >= < <= == != to compare")
            right = self.numeric(right_node, "each side of a comparison")
            left = sides[-1]
            parts.append(Binary("bool", _names(left, right), _COMPARE[type(op)], left, right))
            sides.append(right)
        if len(parts) == 1:
            return parts[0]
        return Logical("bool", _names(*parts), True, tuple(parts))

    def name(self, node: ast.Name) -> Expr:
        value_type = self.scope.name_type(node.id)
        if value_type is None:
            raise self.fail(node, _unknown("name", node.id, self.scope.suggestions()))
        return Name(value_type, frozenset([node.id]), node.id)

    def call(self, node: ast.Call) -> Expr:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node, "only the engine's functions may be called, e.g. prior_sum(...)")
        name = node.func.id
        spec = self.scope.function(name)
        if spec is None:
            raise self.fail(node, _unknown("function", name, self.scope.suggestions()))
        if node.keywords or len(node.args) != len(spec.args):
            raise self.fail(node, f"{name}() takes {len(spec.args)} positional argument(s)")
        args: list[Expr | str] = []
        names: set[str] = set()
        for kind, arg in zip(spec.args, node.args, strict=True):
            if kind == "series":
                if isinstance(arg, ast.Name) and self.scope.name_type(arg.id) is None:
                    raise self.fail(arg, _unknown("metric", arg.id, self.scope.suggestions()))
                if not (isinstance(arg, ast.Name) and self.scope.is_series(arg.id)):
                    raise self.fail(arg, f"the first argument of {name}() must be a weekly metric")
                args.append(arg.id)
                names.add(arg.id)
            elif kind == "count":
                args.append(self.count(name, spec, arg))
            else:
                compiled = self.numeric(arg, f"an argument of {name}()")
                args.append(compiled)
                names |= compiled.names
        return Call(spec.returns, frozenset(names), name, tuple(args))

    def count(self, function: str, spec: FunctionSpec, arg: ast.expr) -> Expr:
        """A window length: a whole-number literal or a parameter (checked when params load)."""
        low, high = spec.count_range
        if isinstance(arg, ast.Name) and self.scope.is_param(arg.id):
            return CountParam("num", frozenset(), arg.id)
        if isinstance(arg, ast.Constant) and type(arg.value) is int and low <= arg.value <= high:
            return Number("num", frozenset(), arg.value)
        raise self.fail(
            arg, f"{function}() needs a whole number from {low} to {high} or a parameter name"
        )


_TYPE_WORDS = {"num": "number", "bool": "condition", "date": "date", "text": "text"}


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return "attribute access ('.')"
    if isinstance(node, ast.Subscript):
        return "indexing ('[...]')"
    if isinstance(node, ast.BinOp):
        return f"the operator {type(node.op).__name__}"
    return f"{type(node).__name__} syntax"


def _unknown(kind: str, name: str, valid: list[str]) -> str:
    from difflib import get_close_matches

    close = get_close_matches(name, valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {kind} {name!r}{hint}"


def compile_expression(text: str, scope: Scope) -> Expr:
    """Parse and type-check `text`; raises `ExpressionError` with the offending offset."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(0, f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    lead = len(text) - len(text.lstrip())
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        # Python reports offset 0 when the text ended too early: point at its end.
        offset = exc.offset - 1 if exc.offset else len(text.strip())
        raise ExpressionError(offset + lead, f"cannot read the expression: {exc.msg}") from None
    try:
        return _Compiler(scope).compile(tree.body)
    except ExpressionError as exc:
        raise ExpressionError(exc.offset + lead, exc.message) from None
    except RecursionError:
        raise ExpressionError(0, "expression nested too deeply") from None


def params_in(expr: Expr | str) -> list[tuple[str, str]]:
    """(function, parameter) pairs where a parameter is used as a window length."""
    found: list[tuple[str, str]] = []
    if isinstance(expr, Call):
        for arg in expr.args:
            if isinstance(arg, CountParam):
                found.append((expr.function, arg.name))
            else:
                found.extend(params_in(arg))
    elif isinstance(expr, Binary):
        found.extend(params_in(expr.left) + params_in(expr.right))
    elif isinstance(expr, Negate):
        found.extend(params_in(expr.operand))
    elif isinstance(expr, Logical):
        for operand in expr.operands:
            found.extend(params_in(operand))
    return found


def bare_names(expr: Expr | str) -> list[str]:
    """Names used as values (not as the series argument of a window function), in order."""
    if isinstance(expr, Name):
        return [expr.name]
    if isinstance(expr, Call):
        return [name for arg in expr.args for name in bare_names(arg)]
    if isinstance(expr, Binary):
        return bare_names(expr.left) + bare_names(expr.right)
    if isinstance(expr, Negate):
        return bare_names(expr.operand)
    if isinstance(expr, Logical):
        return [name for operand in expr.operands for name in bare_names(operand)]
    return []
