"""Rows in the archive's raw layouts, for hand-made mirrors in tests."""

from datetime import UTC, date, datetime, timedelta

from transforms import formats


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def kline_rows(day: date, minutes: int = 1440, price: float = 100.0) -> list[list[object]]:
    """1-minute bars of ``day``: prices drift by one cent a minute, 10 trades a bar."""
    rows: list[list[object]] = []
    for minute in range(minutes):
        open_time = epoch_ms(midnight(day) + timedelta(minutes=minute))
        close = round(price + 0.01 * (minute + 1), 2)
        rows.append(
            [
                open_time,
                round(price + 0.01 * minute, 2),
                close + 0.05,
                close - 0.05,
                close,
                1.5,
                open_time + 59_999,
                round(1.5 * close, 6),
                10,
                0.75,
                round(0.75 * close, 6),
                0,
            ]
        )
    return rows


def metrics_rows(
    day: date, symbol: str = "BTCUSDT", period_end_labels: bool = False
) -> list[list[object]]:
    """288 five-minute rows; ``period_end_labels`` gives the 00:05…next-day-00:00 convention."""
    offset = timedelta(minutes=5) if period_end_labels else timedelta()
    rows: list[list[object]] = []
    for slot in range(288):
        label = midnight(day) + offset + timedelta(minutes=5 * slot)
        oi = 1000.0 + slot
        rows.append(
            [
                label.strftime(formats.METRICS_TIME_FORMAT),
                symbol,
                oi,
                oi * 100.0,
                1.1,
                1.2,
                0.9,
                1.05,
            ]
        )
    return rows


def funding_rows(month_start: date, days: int, interval_hours: int = 8) -> list[list[object]]:
    """One settlement every ``interval_hours`` with a few ms of ``calc_time`` jitter."""
    rows: list[list[object]] = []
    settlements = days * 24 // interval_hours
    for index in range(settlements):
        moment = midnight(month_start) + timedelta(hours=interval_hours * index)
        rows.append([epoch_ms(moment) + index % 3, interval_hours, 0.0001])
    return rows


def liquidation_rows(day: date, orders: int = 4) -> list[list[object]]:
    """Alternating long (SELL) and short (BUY) liquidations, one an hour."""
    rows: list[list[object]] = []
    for index in range(orders):
        moment = epoch_ms(midnight(day) + timedelta(hours=index))
        side = "SELL" if index % 2 == 0 else "BUY"
        rows.append([moment, side, "LIMIT", "IOC", 2.0, 99.0, 100.0, "FILLED", 2.0, 2.0])
    return rows
