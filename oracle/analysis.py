"""Snapshot -> OracleDocument: runs the metrics and assembles the versioned document."""

from __future__ import annotations

from oracle import metrics
from oracle.errors import OracleError
from oracle.model import (
    DataSource,
    DepthBand,
    Imbalance,
    Liquidity,
    OracleDocument,
    TopOfBook,
    TradeFlow,
    Volatility,
    Vwap,
)
from oracle.snapshot import Snapshot

IMBALANCE_LEVELS = (5, 10, 20)
DEPTH_BANDS_BPS = (10.0, 50.0)
VOL_INTERVAL_MS = 1_000


def analyse(snapshot: Snapshot, source: DataSource, now_ms: int) -> OracleDocument:
    """Every metric for one snapshot; an unusable book raises DATA_OUTAGE, never neutral numbers."""
    bids, asks = snapshot.bids, snapshot.asks
    try:
        metrics.check_book(bids, asks)
    except metrics.BookError as exc:
        raise OracleError(
            "DATA_OUTAGE", f"{snapshot.symbol}: unusable order book: {exc}", {"reason": exc.reason}
        ) from None
    (bid, bid_qty), (ask, ask_qty) = bids[0], asks[0]
    mid = metrics.mid(bid, ask)
    spread = metrics.spread_bps(bid, ask)

    imbalances = []
    for n in IMBALANCE_LEVELS:
        bq, bn = metrics.side_totals(bids, n)
        aq, an = metrics.side_totals(asks, n)
        imbalances.append(
            Imbalance(
                levels=n,
                bid_levels_used=min(n, len(bids)),
                ask_levels_used=min(n, len(asks)),
                by_quantity=metrics.imbalance(bq, aq),
                by_notional=metrics.imbalance(bn, an),
            )
        )

    bands = []
    for bps in DEPTH_BANDS_BPS:
        bid_notional, bid_complete = metrics.depth_within(bids, mid, bps, is_bid=True)
        ask_notional, ask_complete = metrics.depth_within(asks, mid, bps, is_bid=False)
        bands.append(DepthBand(bps=bps, bid_notional=bid_notional, ask_notional=ask_notional,
                               bid_complete=bid_complete, ask_complete=ask_complete))
    depth_50 = min(bands[-1].bid_notional, bands[-1].ask_notional)
    usd = metrics.quote_is_usd(snapshot.symbol)

    trades = snapshot.trades or ()
    vwap_24h = snapshot.ticker.weighted_avg_price if snapshot.ticker else None
    vwap_trades = metrics.vwap(trades)
    flow = metrics.trade_flow(trades) if trades else None
    vol = metrics.realized_volatility(trades, VOL_INTERVAL_MS)
    book_ticker = snapshot.book_ticker

    return OracleDocument(
        symbol=snapshot.symbol,
        source=source,
        last_update_id=snapshot.last_update_id,
        as_of_ms=snapshot.as_of_ms,
        as_of_source=snapshot.as_of_source,
        received_ms=snapshot.received_ms,
        age_ms=None if snapshot.as_of_ms is None else now_ms - snapshot.as_of_ms,
        bid_levels=len(bids),
        ask_levels=len(asks),
        best_bid=bid,
        best_bid_qty=bid_qty,
        best_ask=ask,
        best_ask_qty=ask_qty,
        mid=mid,
        microprice=metrics.microprice(bid, bid_qty, ask, ask_qty),
        spread=ask - bid,
        spread_bps=spread,
        top_of_book=None
        if book_ticker is None
        else TopOfBook(bid=book_ticker.bid, bid_qty=book_ticker.bid_qty, ask=book_ticker.ask,
                       ask_qty=book_ticker.ask_qty),
        imbalance=imbalances,
        depth=bands,
        vwap=Vwap(
            vwap_24h=vwap_24h,
            vwap_trades=vwap_trades,
            mid_vs_vwap_24h_bps=None if vwap_24h is None else metrics.bps_from(mid, vwap_24h),
            mid_vs_vwap_trades_bps=None if vwap_trades is None else metrics.bps_from(mid, vwap_trades),
        ),
        trade_flow=None
        if flow is None
        else TradeFlow(
            trades=len(trades),
            buy_qty=flow.buy_qty,
            sell_qty=flow.sell_qty,
            buy_notional=flow.buy_notional,
            sell_notional=flow.sell_notional,
            imbalance_qty=metrics.imbalance(flow.buy_qty, flow.sell_qty),
            imbalance_notional=metrics.imbalance(flow.buy_notional, flow.sell_notional),
            first_trade_ms=trades[0].time_ms,
            last_trade_ms=trades[-1].time_ms,
        ),
        volatility=None
        if vol is None
        else Volatility(sample_interval_ms=VOL_INTERVAL_MS, returns=vol.returns, window_ms=vol.window_ms,
                        window_bps=vol.window_bps, per_minute_bps=vol.per_minute_bps),
        liquidity=Liquidity(
            grade=metrics.liquidity_grade(spread, depth_50 if usd else None),
            basis="spread+depth" if usd else "spread_only",
            spread_bps=spread,
            min_side_depth_50bps=depth_50,
        ),
    )
