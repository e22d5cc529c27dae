"""Call slots go to the oldest case first, so retries do not queue behind fresh cases."""

from __future__ import annotations

import asyncio

from charter.providers.calls import CALL_ORDER as _CASE_ORDER, CallSlots as _Slots


def test_a_freed_slot_goes_to_the_oldest_waiting_case():
    async def scenario() -> list[int]:
        slots, granted = _Slots(1), []
        await slots.__aenter__()  # the only slot is busy

        async def call(order: int) -> None:
            _CASE_ORDER.set(order)
            async with slots:
                granted.append(order)

        waiters = [asyncio.create_task(call(order)) for order in (7, 3, 9, 1)]
        await asyncio.sleep(0)
        await slots.__aexit__()
        await asyncio.gather(*waiters)
        return granted

    assert asyncio.run(scenario()) == [1, 3, 7, 9]


def test_a_cancelled_waiter_does_not_lose_the_slot():
    async def scenario() -> bool:
        slots = _Slots(1)
        await slots.__aenter__()
        _CASE_ORDER.set(0)
        doomed = asyncio.create_task(slots.__aenter__())
        await asyncio.sleep(0)
        doomed.cancel()
        await asyncio.gather(doomed, return_exceptions=True)
        await slots.__aexit__()
        await asyncio.wait_for(slots.__aenter__(), timeout=1)  # the slot is free again
        return True

    assert asyncio.run(scenario())
