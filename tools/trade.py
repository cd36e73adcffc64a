"""`trade`: buy with a quote amount or a percent of equity, or sell (close) a position — through the risk engine.

A buy is decided by exactly the gate the engine's own signals pass (`Engine.request_entry`): the requested
amount is an upper bound, every cap and clamp still applies, and the answer lists them with the orders and
fills that resulted. The request runs on the home's engine: queued to `run` when it is running, or executed
by this process under the single-writer lock when it is not (`runtime.commands.submit`).

Two-phase (Invariant 10): in testnet and live — and in any mode the tool cannot identify — the first call
only previews (the same decision computed on a copy of the engine, nothing placed) and returns a code valid
for 120 s; only a second call with the SAME parameters and `confirm=CODE` executes. `TRADE_CONFIRMATION=always`
makes paper and replay two-phase too. Codes are single-use and stored as hashes in the journal, so every CLI
process of the home sees them.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from core.errors import ExecutorError
from core.types import Reason
from memory.journal import CommandRow, CommandStatus, Journal
from runtime.analyzer import analyzer_factory
from runtime.checkpoint_mode import UNKNOWN_MODE, checkpoint_mode, needs_confirmation
from runtime.commands import CommandKind, NotStarted, Outcome, has_state, request_fingerprint, same_request, submit
from runtime.settings import confirmation_channel
from tools.confirmation_codes import CONFIRMATION_TTL_MS, code_digest, new_code, params_digest
from tools.confirmation_codes import digest as _digest
from tools.spec import ToolContext, ToolSpec
from tools.state import stored_checkpoint

RETRY_WINDOW_MS = 60_000  # an automatic key matches the previous request only if it was answered this recently
AUTOMATIC_KEY_PREFIX = "auto:"

Percent = Annotated[Decimal, Field(gt=0, lt=100, allow_inf_nan=False)]
# Output money: exact digits without an exponent (0.00000015, never 1.5E-7), as a JSON string.
Money = Annotated[Decimal, PlainSerializer(lambda value: format(value, "f"), return_type=str, when_used="json")]


# ----- errors --------------------------------------------------------------------------------------------


class ConfirmationUnknown(ExecutorError):
    code = "CONFIRMATION_UNKNOWN"


class ConfirmationUsed(ExecutorError):
    code = "CONFIRMATION_USED"


class ConfirmationExpired(ExecutorError):
    code = "CONFIRMATION_EXPIRED"


class ConfirmationMismatch(ExecutorError):
    code = "CONFIRMATION_MISMATCH"


# ----- models --------------------------------------------------------------------------------------------


class TradeInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    symbol: str = Field(pattern=r"^[A-Z0-9]{2,20}$", description="Binance Spot symbol, e.g. BTCUSDT.")
    side: Literal["buy", "sell"] = Field(description="buy opens a position; sell closes the whole open position.")
    quote: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)] | None = Field(
        default=None, description="Buy: amount of the quote asset (USDT) to spend at most; risk caps may lower it. "
        "Give exactly one of quote or pct for a buy; none for a sell.")
    pct: Annotated[Decimal, Field(gt=0, le=100, allow_inf_nan=False)] | None = Field(
        default=None, description="Buy: percent of current equity to spend at most (the position cap still "
        "applies). Give exactly one of quote or pct for a buy; none for a sell.")
    tp: Percent | None = Field(default=None, description="Buy: take-profit distance above the entry, in percent "
                               "(default: the home's manual trade setting, manual.take_profit_pct).")
    sl: Percent | None = Field(default=None, description="Buy: stop-loss distance below the entry, in percent "
                               "(default: the home's manual trade setting, manual.stop_loss_pct).")
    confirm: str | None = Field(default=None, pattern=r"^[A-Z0-9]{4}-[A-Z0-9]{4}$",
                                description="The confirmation code a preview returned; executes the previewed "
                                "trade if the other parameters are exactly the same and the code is unused and "
                                "younger than 120 s.")
    request_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
                                   description="Idempotency key, bound to this trade's parameters: a retry with the "
                                   "same request_id and the same parameters returns the first answer (replayed: true) "
                                   "and never trades twice; the same request_id with other parameters is refused "
                                   "(REQUEST_ID_CONFLICT). Without one, a call is a retry of the previous request of "
                                   "the home only if it has the same parameters, no other trade, pause, resume or kill "
                                   "came in between, and that request is still running or placed orders and was "
                                   "answered less than 60 s ago; anything else is a new request. Pass a request_id "
                                   "to retry safely later than that.")
    wait_s: float = Field(default=30.0, gt=0, le=300, description="How long to wait for a running engine's "
                          "answer, in seconds.")

    @model_validator(mode="after")
    def _amounts(self) -> TradeInput:
        if self.side == "buy" and (self.quote is None) == (self.pct is None):
            raise ValueError("a buy needs exactly one of quote or pct")
        if self.side == "sell" and any(v is not None for v in (self.quote, self.pct, self.tp, self.sl)):
            raise ValueError("a sell closes the whole position: quote, pct, tp and sl do not apply")
        return self


class ClampView(BaseModel):
    rule: str = Field(description="The rule that fired, e.g. risk.max_position_size_pct.")
    field: str = Field(description="What it limited.")
    requested: str = Field(description="The value before the clamp.")
    applied: str = Field(description="The value after the clamp.")
    source: str = Field(description="Who applied it: risk, filters or advice.")


class DecisionView(BaseModel):
    action: Literal["enter", "skip"] = Field(description="enter: the risk engine allows the entry; skip: refused.")
    quote_amount: Money = Field(description="Quote amount the entry spends at most, after every cap: it is sent as "
                                "a quote-amount market buy (quoteOrderQty), so the exchange never spends more "
                                "(0 when skipped).")
    quantity: Money = Field(description="The least base quantity the entry buys: the quote amount at the reference "
                            "price plus the slippage allowance, rounded down to the lot step (0 when skipped).")
    reference_price: Money | None = Field(description="The market price the decision used.")
    take_profit_price: Money | None = Field(description="Take-profit price of the protective OCO: the one sent, "
                                            "measured from the entry's average fill price, once the entry filled; "
                                            "until then the one planned at the reference price.")
    stop_price: Money | None = Field(description="Stop price of the protective OCO (as take_profit_price).")
    reasons: list[Reason] = Field(description="Every reason, in the order the rules fired: how the entry was sized, "
                                  "each clamp, and every rule that refused it.")
    clamps: list[ClampView] = Field(description="Every cap that lowered the request.")


class OrderView(BaseModel):
    client_order_id: str = Field(description="Deterministic client order id (cx- prefix).")
    list_client_id: str | None = Field(description="The OCO list this order is a leg of, if any.")
    side: str = Field(description="BUY or SELL.")
    type: str = Field(description="MARKET, LIMIT_MAKER (take-profit leg) or STOP_LOSS_LIMIT (stop leg).")
    status: str = Field(description="The exchange's order status.")
    quantity: Money | None = Field(description="Ordered quantity (none for an entry, which gives quote_order_qty).")
    quote_order_qty: Money | None = Field(default=None, description="Entry: the quote amount a market buy spends "
                                          "at most (Binance's quoteOrderQty).")
    price: Money | None = Field(description="Limit price, if any.")
    stop_price: Money | None = Field(description="Stop trigger price, if any.")
    executed_qty: Money = Field(description="Quantity filled so far.")
    cum_quote: Money = Field(description="Quote amount filled so far.")


class FillView(BaseModel):
    client_order_id: str = Field(description="The order this fill belongs to.")
    trade_id: int = Field(description="Exchange trade id.")
    side: str = Field(description="BUY or SELL.")
    price: Money = Field(description="Execution price.")
    quantity: Money = Field(description="Executed quantity.")
    commission: Money = Field(description="Fee charged.")
    commission_asset: str = Field(description="Asset the fee was charged in.")


class ProtectionView(BaseModel):
    kind: str = Field(description="oco (take-profit and stop) or stop (a lone stop when the OCO was refused).")
    id: str = Field(description="Client id of the protective order list or order.")
    stop_price: Money = Field(description="Stop trigger price (for a stop the exchange trails: where it triggers "
                              "now, the highest price since placement less the delta).")
    take_profit_price: Money | None = Field(description="Take-profit price (OCO only).")
    trailing_delta: int | None = Field(default=None, description="BIPS (0.01 %) the exchange trails the stop by "
                                       "(belowTrailingDelta); null: a fixed stop moved up by the engine's ladder.")


class ConfirmationView(BaseModel):
    code: str = Field(description="Pass as confirm=CODE with exactly the same parameters to execute.")
    expires_ms: int = Field(description="Wall-clock expiry, milliseconds since the epoch.")
    expires_at: str = Field(description="Expiry in UTC, ISO 8601.")


class DeliveryView(BaseModel):
    channel: Literal["telegram"] = Field(description="Where the confirmation code went instead of this answer.")
    delivered: bool = Field(description="true: the preview and its Confirm / Cancel buttons are in the Telegram "
                            "chat; false: they could not be delivered, so nothing can confirm this preview.")
    request_id: int = Field(description="The confirmation request's id (0: none was made).")
    detail: str = Field(description="What happened, for the person.")
    expires_at: str = Field(description="Until when Confirm works, UTC, ISO 8601.")


class TradeOutput(BaseModel):
    status: Literal["executed", "skipped", "preview"] = Field(
        description="executed: orders were placed; skipped: the risk engine refused, nothing placed; preview: "
        "nothing placed, confirm to execute.")
    mode: str = Field(description="The engine's mode: replay, paper, testnet, live (unknown counts as live).")
    symbol: str = Field(description="The symbol traded.")
    side: Literal["buy", "sell"] = Field(description="buy or sell.")
    message: str = Field(description="One-line summary for a person.")
    requested_quote: Money | None = Field(default=None, description="Buy: the upper bound asked for, in quote.")
    take_profit_pct: Money | None = Field(default=None, description="Buy: take-profit percent used.")
    stop_loss_pct: Money | None = Field(default=None, description="Buy: stop-loss percent used.")
    decision: DecisionView | None = Field(default=None, description="Buy: the risk engine's decision.")
    sell_quantity: Money | None = Field(default=None, description="Sell preview: the quantity that would be sold.")
    orders: list[OrderView] = Field(default_factory=list, description="Orders this request placed or changed.")
    fills: list[FillView] = Field(default_factory=list, description="Fills of those orders so far.")
    protection: ProtectionView | None = Field(default=None, description="Buy: the position's protective order.")
    protection_failed: str | None = Field(default=None, description="Buy: set when the entry filled but no "
                                          "protection could be placed: why. The position is then sold at market "
                                          "(see exit_order); it is never left unprotected.")
    exit_order: OrderView | None = Field(default=None, description="Buy: the market sell that closed a position "
                                         "whose protection failed.")
    confirmation: ConfirmationView | None = Field(default=None, description="Preview: the code to confirm with "
                                                  "(null when the code went to Telegram instead).")
    confirmation_delivery: DeliveryView | None = Field(default=None, description="Preview with "
                                                       "TRADE_CONFIRMATION_CHANNEL=telegram: where the code went; "
                                                       "only the person pressing Confirm there can execute it.")
    request_id: str | None = Field(default=None, description="The idempotency key this request ran under.")
    executed_by: str | None = Field(default=None, description="running engine, this process, or stored answer "
                                    "(a retry of a request already done).")
    replayed: bool = Field(default=False, description="true: this call was a retry of a request already made under "
                           "the same request_id; nothing new was executed and this is the first attempt's answer.")
    engine_time_ms: int | None = Field(default=None, description="The engine's clock when it acted.")


# ----- the handler ---------------------------------------------------------------------------------------


def handle(args: TradeInput, ctx: ToolContext) -> TradeOutput:
    mode = current_mode(ctx)
    params = resolved_parameters(args, ctx)
    now = ctx.now_ms()
    if args.confirm is not None:
        # The code is single-use and unique: with the parameters it is the request's key. A retry of a confirmed
        # trade (e.g. after a timeout) finds its command and gets the answer without spending the code again.
        key = args.request_id or f"confirm:{_digest({'trade': params, 'code': _digest(args.confirm)})}"
        with Journal(ctx.home.journal) as journal:
            asked_before = journal.command_by_key(key) is not None
        if not asked_before:
            spend_code(ctx, args.confirm, params, now)
        return _execute(args, ctx, mode, params, key)
    if needs_confirmation(mode, ctx.env):
        return _preview(args, ctx, mode, params, now)
    key = args.request_id or automatic_request_id(ctx, _payload(params), now)
    return _execute(args, ctx, mode, params, key)


def automatic_request_id(ctx: ToolContext, payload: dict[str, Any], now_ms: int) -> str:
    """The idempotency key of a trade asked without a request_id.

    A call is a retry of the home's previous request (previews aside: they change nothing) when it asks exactly
    the same, and that request is either still without an answer (it timed out on the caller's side: the retry
    must wait for that one execution, never start a second) or placed orders and was answered less than
    RETRY_WINDOW_MS ago. Then it gets the same key, hence the same answer. Anything else is a new request,
    keyed by its parameters and the id of the command before it: a buy, a sell, then the same buy is a new
    buy, and two processes sending the same new request at the same moment still become one command.
    """
    with Journal(ctx.home.journal) as journal:
        previous = journal.latest_command(excluding_kinds=(CommandKind.PREVIEW,))
    if previous is not None and same_request(previous, CommandKind.TRADE, payload) and _retry_of(previous, now_ms):
        return previous.idempotency_key
    sequence = 0 if previous is None else previous.id
    return f"{AUTOMATIC_KEY_PREFIX}{request_fingerprint(CommandKind.TRADE, payload)}:{sequence}"


def _retry_of(previous: CommandRow, now_ms: int) -> bool:
    if previous.status is not CommandStatus.DONE:
        return True
    recent = previous.completed_ms is not None and now_ms - previous.completed_ms <= RETRY_WINDOW_MS
    return recent and _placed_orders(previous.result)


def _placed_orders(result: dict[str, Any] | None) -> bool:
    return bool(result and result.get("ok") and result.get("data", {}).get("orders"))


def current_mode(ctx: ToolContext) -> str:
    """The home's engine mode from its checkpoint; "unknown" while a starting engine has not saved one."""
    stored = stored_checkpoint(ctx.home)
    if stored is not None:
        return checkpoint_mode(stored.document)
    if has_state(ctx.home):
        return UNKNOWN_MODE
    raise NotStarted(ctx.home.root)


def resolved_parameters(args: TradeInput, ctx: ToolContext) -> dict[str, str | None]:
    """The trade as executed (defaults filled in, numbers in canonical form): what a code is bound to."""
    manual = ctx.config.manual
    buying = args.side == "buy"
    return {
        "symbol": args.symbol,
        "side": args.side,
        "quote": _canonical(args.quote),
        "pct": _canonical(args.pct),
        "tp": _canonical(args.tp if args.tp is not None else manual.take_profit_pct) if buying else None,
        "sl": _canonical(args.sl if args.sl is not None else manual.stop_loss_pct) if buying else None,
    }


def spend_code(ctx: ToolContext, code: str, params: dict[str, str | None], now_ms: int) -> None:
    """Use a confirmation code once, for exactly the parameters it was issued for, before it expires."""
    code_hash, params_hash = code_digest(code), params_digest(params)
    with Journal(ctx.home.journal) as journal:
        if journal.use_confirmation(code_hash, params_hash, now_ms):
            return
        row = journal.confirmation(code_hash)
    if row is None:
        raise ConfirmationUnknown(f"confirmation code {code} is unknown: ask for a new preview (call trade without "
                                  "confirm)", symbol=params["symbol"])
    if row.used_ms is not None:
        raise ConfirmationUsed(f"confirmation code {code} was already used; a code executes one trade only: ask for "
                               "a new preview", symbol=params["symbol"], used_ms=row.used_ms)
    if now_ms > row.expires_ms:
        raise ConfirmationExpired(f"confirmation code {code} expired at {_iso(row.expires_ms)} (codes last "
                                  f"{CONFIRMATION_TTL_MS // 1000} s): ask for a new preview",
                                  symbol=params["symbol"], expires_ms=row.expires_ms)
    raise ConfirmationMismatch(f"confirmation code {code} was issued for other parameters; it confirms only the "
                               "exact trade that was previewed: repeat those parameters, or ask for a new preview",
                               symbol=params["symbol"])


def _preview(args: TradeInput, ctx: ToolContext, mode: str, params: dict[str, str | None],
             now_ms: int) -> TradeOutput:
    payload = _payload(params)
    outcome = submit(ctx.home, ctx.config, CommandKind.PREVIEW, payload, f"preview:{secrets.token_hex(16)}",
                     ctx.now_ms, wait_s=args.wait_s)
    data = outcome.data
    output = _output(args, mode, data, outcome, status="preview", request_id=None)
    if not data.get("would_execute"):
        output.message = f"preview: the risk engine would refuse this now ({_reasons(output)}); nothing to confirm"
        return output
    if confirmation_channel_of(ctx) == "telegram":
        return _preview_out_of_band(args, ctx, params, now_ms, output)
    code = new_code()
    expires = now_ms + CONFIRMATION_TTL_MS
    with Journal(ctx.home.journal) as journal:
        journal.record_confirmation(code_digest(code), params_digest(params), now_ms, expires)
    output.confirmation = ConfirmationView(code=code, expires_ms=expires, expires_at=_iso(expires))
    output.message = f"preview only, nothing placed: {_summary(output)}. To execute, call trade again with the same " \
                     f"parameters and confirm={code} before {_iso(expires)}"
    return output


def confirmation_channel_of(ctx: ToolContext) -> str:
    """Where codes go: telegram when this process's TRADE_CONFIRMATION_CHANNEL says so, or when the running
    executor of the home does (its checkpoint records it): an agent cannot take the code back into its own answer
    by leaving the setting out of its environment."""
    stored = stored_checkpoint(ctx.home)
    if stored is not None and stored.document.get("confirmation_channel") == "telegram":
        return "telegram"
    return confirmation_channel(ctx.env)


def _preview_out_of_band(args: TradeInput, ctx: ToolContext, params: dict[str, str | None], now_ms: int,
                         output: TradeOutput) -> TradeOutput:
    from tools.telegram.confirm import request_delivery

    summary = _summary(output)
    delivery = request_delivery(ctx, params, f"{output.mode}: {summary}", now_ms, args.wait_s)
    expires = _iso(now_ms + CONFIRMATION_TTL_MS)
    output.confirmation_delivery = DeliveryView(channel="telegram", delivered=delivery.delivered,
                                                request_id=delivery.request_id, detail=delivery.detail,
                                                expires_at=expires)
    if delivery.delivered:
        output.message = (f"preview only, nothing placed: {summary}. The confirmation was sent to the person's "
                          f"Telegram chat: ask them to press Confirm there before {expires}; this answer holds no "
                          "code and cannot execute the trade")
    else:
        output.message = (f"preview only, nothing placed: {summary}. The confirmation code could NOT be delivered "
                          f"({delivery.detail}); nothing will execute this trade")
    return output


def _execute(args: TradeInput, ctx: ToolContext, mode: str, params: dict[str, str | None], key: str) -> TradeOutput:
    payload = {**_payload(params), "expires_ms": ctx.now_ms() + int(args.wait_s * 1000)}
    outcome = submit(ctx.home, ctx.config, CommandKind.TRADE, payload, key, ctx.now_ms, wait_s=args.wait_s,
                     review=analyzer_factory(ctx.env, ctx.now_ms))
    placed = bool(outcome.data.get("orders")) or outcome.data.get("action") == "sell"
    output = _output(args, mode, outcome.data, outcome, status="executed" if placed else "skipped", request_id=key)
    output.message = _summary(output) if placed else f"not executed: {_reasons(output)}"
    if outcome.replayed:
        output.message = f"replay of request {key}, nothing new executed: {output.message}"
    return output


def _payload(params: dict[str, str | None]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def _output(args: TradeInput, mode: str, data: dict[str, Any], outcome: Outcome, status: str,
            request_id: str | None) -> TradeOutput:
    decision = data.get("decision")
    exit_order = data.get("exit_order")
    return TradeOutput.model_validate({
        "status": status, "mode": mode, "symbol": args.symbol, "side": args.side, "message": "",
        "requested_quote": data.get("requested_quote"), "take_profit_pct": data.get("take_profit_pct"),
        "stop_loss_pct": data.get("stop_loss_pct"),
        "decision": None if decision is None else {k: decision[k] for k in DecisionView.model_fields},
        "sell_quantity": data.get("quantity") if args.side == "sell" else None,
        "orders": [{k: o[k] for k in OrderView.model_fields if k in o} for o in data.get("orders", [])],
        "fills": [{k: f[k] for k in FillView.model_fields} for f in data.get("fills", [])],
        "protection": data.get("protection"), "request_id": request_id, "executed_by": outcome.executed_by,
        "replayed": outcome.replayed,
        "engine_time_ms": data.get("engine_time_ms"), "protection_failed": data.get("protection_failed"),
        "exit_order": None if exit_order is None else {k: exit_order[k] for k in OrderView.model_fields
                                                       if k in exit_order},
    })


def _summary(output: TradeOutput) -> str:
    if output.side == "sell":
        if output.status == "preview":
            return f"SELL {output.sell_quantity} {output.symbol} at market (closes the position)"
        filled = sum((f.quantity for f in output.fills), Decimal(0))
        return f"SELL {output.symbol}: exit order placed, {filled} filled so far"
    decision = output.decision
    assert decision is not None
    text = (f"BUY {output.symbol} for at most {decision.quote_amount} (asked {output.requested_quote}; at least "
            f"{decision.quantity}); take-profit {decision.take_profit_price}, stop {decision.stop_price}")
    if decision.clamps:
        text += f"; capped by {', '.join(c.rule for c in decision.clamps)}"
    if output.protection is not None:
        text += f"; protected by {output.protection.kind} {output.protection.id}"
    if output.protection_failed is not None:
        text += f"; NOT PROTECTED: {output.protection_failed}"
        sold = output.exit_order
        text += (f"; sold at market by {sold.client_order_id} ({sold.status}, {sold.executed_qty} sold)"
                 if sold is not None else "; the position is being sold at market")
    return text


def _reasons(output: TradeOutput) -> str:
    return "; ".join(r.message for r in output.decision.reasons) if output.decision is not None else "no decision"


def _canonical(value: Decimal | None) -> str | None:
    """One spelling per number: 100, 100.0 and 1E+2 are the same parameter."""
    if value is None:
        return None
    return format(value.normalize(), "f")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


SPEC = ToolSpec(
    name="trade",
    description="Buy (quote amount or percent of equity) or sell (close) a Binance Spot position through the risk "
                "engine; live and testnet trades return a preview and code first and execute only on confirm.",
    input_model=TradeInput,
    output_model=TradeOutput,
    handler=handle,
    read_only=False,
    destructive=True,
    title="Trade (buy or close)",
    open_world=True,  # orders reach Binance in testnet and live mode
)
