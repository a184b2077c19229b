"""Send pacing: the token bucket (fake clock) and the dispatcher's use of it."""

from __future__ import annotations

import asyncio
import bisect

import pytest
from sqlalchemy import Engine

from jobs.delivery import Dispatcher, Outgoing, SendOutcome, Target
from jobs.ratelimit import TokenBucket
from tests.test_alerts import GUILD, Clock
from tests.test_delivery import queue, rows


class FakeTime:
    """A monotonic clock that only moves when the bucket sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def most_in_one_second(times: list[float]) -> int:
    """The largest number of ``times`` inside any half-open one-second window."""
    return max(bisect.bisect_left(times, start + 1.0) - i for i, start in enumerate(times))


@pytest.mark.parametrize(("rate", "capacity"), [(45, 1), (45, 3), (10, 5), (50, 1)])
async def test_never_more_than_capacity_plus_rate_in_any_second(
    rate: float, capacity: float
) -> None:
    fake = FakeTime()
    bucket = TokenBucket(rate, capacity, clock=fake.clock, sleep=fake.sleep)
    times = []
    for _ in range(500):
        await bucket.acquire()
        times.append(fake.now)
    assert most_in_one_second(times) <= capacity + rate
    # ... and no slower than it may be: the 500th goes at (500 - capacity) / rate.
    assert times[-1] - times[0] == pytest.approx((500 - capacity) / rate, rel=1e-6)


async def test_default_is_46_per_second_and_never_50_in_a_second() -> None:
    fake = FakeTime()
    bucket = TokenBucket(clock=fake.clock, sleep=fake.sleep)
    times = []
    for _ in range(1000):
        await bucket.acquire()
        times.append(fake.now)
    assert most_in_one_second(times) <= 49  # below Discord's 50/s with room for other calls
    assert 997 / (times[-1] - times[0]) == pytest.approx(46, rel=1e-6)


async def test_idle_time_banks_at_most_capacity() -> None:
    fake = FakeTime()
    bucket = TokenBucket(45, 3, clock=fake.clock, sleep=fake.sleep)
    await bucket.acquire()
    fake.now += 60  # a quiet minute
    start = fake.now
    for _ in range(13):
        await bucket.acquire()
    assert fake.now - start == pytest.approx(10 / 45)  # 3 at once, then 10 paced


async def test_concurrent_waiters_are_served_in_the_order_they_asked() -> None:
    fake = FakeTime()
    bucket = TokenBucket(45, 1, clock=fake.clock, sleep=fake.sleep)
    served: list[int] = []

    async def take(i: int) -> None:
        await bucket.acquire()
        served.append(i)

    await asyncio.gather(*(take(i) for i in range(50)))
    assert served == list(range(50))


def test_rejects_a_useless_configuration() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0)
    with pytest.raises(ValueError):
        TokenBucket(45, 0.5)


class Gated:
    """A sender whose sends wait until released, counting how many are in flight."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most = 0
        self.calls: list[Outgoing] = []

    async def send(self, message: Outgoing) -> SendOutcome:
        self.calls.append(message)
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        return SendOutcome.sent(len(self.calls))


class Counting(TokenBucket):
    def __init__(self) -> None:
        super().__init__(1000, 1000)
        self.taken = 0

    async def acquire(self) -> None:
        self.taken += 1
        await super().acquire()


async def test_dispatcher_paces_every_send_and_bounds_sends_in_flight(engine: Engine) -> None:
    clock = Clock()
    targets = [Target("channel", 5000 + i, GUILD) for i in range(12)]
    queue(engine, clock, "fan", *targets)
    sender, pace = Gated(), Counting()
    dispatcher = Dispatcher(engine=engine, sender=sender, clock=clock, pace=pace, in_flight=3)
    report = await dispatcher.drain()
    assert report.sent == 12 and pace.taken == 12
    assert sender.most == 3
    assert [m.target.id for m in sender.calls] == [t.id for t in targets]  # started in order
    assert {d.state for d in rows(engine)} == {"sent"}


async def test_a_targets_messages_go_one_after_another_and_stop_when_it_is_lost(
    engine: Engine,
) -> None:
    clock = Clock()
    lost, other = Target("channel", 6001, GUILD), Target("channel", 6002, GUILD)
    for key in ("a", "b", "c"):
        queue(engine, clock, key, lost, other)

    class LosesOne(Gated):
        async def send(self, message: Outgoing) -> SendOutcome:
            outcome = await super().send(message)
            if message.target == lost:
                return SendOutcome.dead("404 (10003) Unknown Channel")
            return outcome

    sender = LosesOne()
    dispatcher = Dispatcher(engine=engine, sender=sender, clock=clock, pace=Counting())
    await dispatcher.run_once()
    assert [m.target for m in sender.calls].count(lost) == 1  # never tried again
    assert [m.target for m in sender.calls].count(other) == 3
    states = {
        (d.target_id, d.alert_id): d.state for d in rows(engine) if d.target_kind == "channel"
    }
    assert sorted(s for (tid, _a), s in states.items() if tid == lost.id) == ["dead"] * 3
    assert sorted(s for (tid, _a), s in states.items() if tid == other.id) == ["sent"] * 3
