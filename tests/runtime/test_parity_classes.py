"""The parity comparison's matching and mismatch classes, on hand-made trade lists (the fixture run is
test_freqtrade_parity.py)."""

from __future__ import annotations

from runtime.parity import CANDLE_MS, CrossMargins, ExitKind, Mismatch, Trade, compare

PAIR = "AAA/USDT"
T0 = 1_609_459_200_000


def at(bar: int) -> int:
    return T0 + bar * CANDLE_MS


def trade(open_bar: int, close_bar: int, exit_kind: ExitKind = ExitKind.EXIT_SIGNAL, pnl: float = -1.0,
          open_rate: float = 100.0, close_rate: float = 99.0) -> Trade:
    return Trade(PAIR, at(open_bar), at(close_bar), open_rate, close_rate, exit_kind, pnl)


NO_TIES = CrossMargins({})


def classes(theirs: list[Trade], ours: list[Trade], missing: frozenset[int] = frozenset(),
            margins: CrossMargins = NO_TIES, refused: tuple[tuple[str, int], ...] = ()) -> tuple[dict[str, int],
                                                                                               dict[str, int]]:
    result = compare(theirs, ours, {PAIR: missing}, margins, refused, stop_loss=0.02)
    return ({k.value: v for k, v in result.freqtrade_unmatched.items() if v},
            {k.value: v for k, v in result.our_unmatched.items() if v})


def test_equal_trades_match_and_their_pnl_is_summed() -> None:
    result = compare([trade(1, 3, pnl=-1.0), trade(5, 6, pnl=2.0)], [trade(1, 3, pnl=-0.9), trade(5, 6, pnl=2.1)],
                     {}, NO_TIES, stop_loss=0.02)
    assert result.matched == 2 and result.matched_pct == 100.0
    assert result.freqtrade_pnl == 1.0 and abs(result.our_pnl - 1.2) < 1e-12
    assert abs(result.pnl_difference_pct - 20.0) < 1e-9
    assert not result.freqtrade_unmatched and not result.our_unmatched


def test_same_entry_later_exit_classes() -> None:
    assert classes([trade(1, 5)], [trade(1, 4)]) == ({"freqtrade_exit_later": 1}, {"freqtrade_exit_later": 1})
    assert classes([trade(1, 4, ExitKind.ROI)], [trade(1, 6, ExitKind.ROI)])[0] == {"take_profit_not_reached": 1}
    stop_rounded = trade(1, 4, ExitKind.STOP_LOSS, open_rate=177.55, close_rate=174.0)  # 0.98 × 177.55 = 173.999
    assert classes([stop_rounded], [trade(1, 6)])[0] == {"stop_rounded_up": 1}
    exact_stop = trade(1, 4, ExitKind.STOP_LOSS, open_rate=100.0, close_rate=97.5)  # the open, below the stop
    assert classes([exact_stop], [trade(1, 6, ExitKind.OTHER)])[0] == {"stop_gapped": 1}
    assert classes([exact_stop], [trade(1, 6)])[0] == {"exit_later": 1}


def test_entries_without_a_twin() -> None:
    assert classes([trade(10, 12)], [], missing=frozenset({at(9)}))[0] == {"gap_filled_candle": 1}
    assert classes([trade(10, 12)], [], refused=((PAIR, at(9)),))[0] == {"entry_refused": 1}
    assert classes([trade(10, 12)], [trade(8, 11)])[0] == {"knock_on": 1}
    assert classes([trade(10, 12)], [], margins=CrossMargins({PAIR: frozenset({at(8)})}))[0] == {"ema_tie": 1}
    assert classes([trade(10, 12)], [])[0] == {"unexplained": 1}
    assert classes([], [trade(10, 12)])[1] == {"unexplained": 1}
    assert Mismatch.UNEXPLAINED is list(Mismatch)[-1]


def test_exit_later_trades_are_checked_against_candles_that_opened_at_their_low() -> None:
    theirs = [trade(1, 5), trade(10, 13), trade(20, 22)]
    ours = [trade(1, 4), trade(10, 12), trade(20, 22)]
    result = compare(theirs, ours, {}, NO_TIES, stop_loss=0.02, at_low={PAIR: frozenset({at(4), at(22)})})
    assert result.freqtrade_unmatched[Mismatch.FREQTRADE_EXIT_LATER] == 2
    assert result.exit_later_opened_at_low == 1  # bar 4 opened at its low, bar 12 did not
    assert (result.signal_exits_opened_at_low, result.signal_exits) == (2, 3)
    assert compare(theirs, ours, {}, NO_TIES, stop_loss=0.02).exit_later_opened_at_low is None
