"""Market sectors of USDT pairs, for the sector guard (`risk.max_positions_per_sector`).

Positions in one sector move together (a meme-coin rout takes every meme coin with it), so a cap on open
positions per sector bounds how much of the book one story can sink. The default map covers 30 of the most
traded Binance USDT pairs; one sector per pair, the one its price moves with most (a judgement, documented in
CONFIGURATION.md, and overridable with SECTOR_MAP). A symbol the map does not name is in no sector: the sector
guard does not count it (MAX_OPEN_POSITIONS still does).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from core.errors import ConfigError

SECTOR_MAP_SETTING = "SECTOR_MAP"


class Sector(StrEnum):
    L1 = "l1"  # base-layer smart-contract chains
    L2 = "l2"  # rollups and scaling layers on top of another chain
    DEFI = "defi"  # lending, exchanges and derivatives on chain
    MEME = "meme"
    EXCHANGE = "exchange"  # tokens of centralised exchanges
    PAYMENT = "payment"  # coins built mainly to move value
    AI = "ai"
    ORACLE = "oracle"
    STORAGE = "storage"


DEFAULT_SECTORS: Mapping[str, Sector] = MappingProxyType({
    "LTCUSDT": Sector.PAYMENT, "BCHUSDT": Sector.PAYMENT, "XRPUSDT": Sector.PAYMENT,
    "XLMUSDT": Sector.PAYMENT, "TRXUSDT": Sector.PAYMENT,
    "BTCUSDT": Sector.L1, "ETHUSDT": Sector.L1, "SOLUSDT": Sector.L1, "ADAUSDT": Sector.L1,
    "AVAXUSDT": Sector.L1, "DOTUSDT": Sector.L1,
    "ATOMUSDT": Sector.L1, "SUIUSDT": Sector.L1, "APTUSDT": Sector.L1, "ETCUSDT": Sector.L1,
    "ARBUSDT": Sector.L2, "OPUSDT": Sector.L2, "POLUSDT": Sector.L2,
    "UNIUSDT": Sector.DEFI, "AAVEUSDT": Sector.DEFI, "INJUSDT": Sector.DEFI,
    "DOGEUSDT": Sector.MEME, "SHIBUSDT": Sector.MEME, "PEPEUSDT": Sector.MEME, "WIFUSDT": Sector.MEME,
    "BNBUSDT": Sector.EXCHANGE,
    "FETUSDT": Sector.AI, "NEARUSDT": Sector.AI,
    "LINKUSDT": Sector.ORACLE,
    "FILUSDT": Sector.STORAGE,
})


def parse_sector_map(raw: str) -> dict[str, Sector]:
    """SECTOR_MAP's text, `SYMBOL=sector,SYMBOL=sector` (e.g. `PEPEUSDT=meme,RNDRUSDT=ai`), as overrides of the
    default map. A symbol mapped to `none` leaves every sector. ConfigError names the entry at fault."""
    overrides: dict[str, Sector] = {}
    removed: list[str] = []
    choices = ", ".join([*(s.value for s in Sector), "none"])
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        symbol, sep, name = (text.strip() for text in entry.partition("="))
        symbol = symbol.upper()
        if not sep or not symbol.isalnum() or not 2 <= len(symbol) <= 20:
            raise ConfigError(SECTOR_MAP_SETTING, raw, f"entry {entry!r} must be SYMBOL=sector, e.g. PEPEUSDT=meme")
        if name.lower() == "none":
            removed.append(symbol)
            continue
        try:
            overrides[symbol] = Sector(name.lower())
        except ValueError:
            raise ConfigError(SECTOR_MAP_SETTING, raw, f"entry {entry!r}: unknown sector {name!r}; one of "
                              f"{choices}", choices=choices) from None
    return {**{s: v for s, v in DEFAULT_SECTORS.items() if s not in removed}, **overrides}
