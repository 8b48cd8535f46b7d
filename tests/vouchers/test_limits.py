"""The wrong-PIN limit in Redis holds under simultaneous guesses, and gives slots back to attempts that
did not fail on their PIN."""

from __future__ import annotations

import threading
import time

import pytest

from ledger.vouchers.limits import MAX_FAILURES, TooManyAttempts, pin_attempt


def test_simultaneous_wrong_guesses_never_pass_the_limit():
    barrier = threading.Barrier(12)
    outcomes: list[str] = []

    def guess(index: int) -> None:
        barrier.wait()
        try:
            with pin_attempt(address=f"192.0.2.{index}", who="customer:race") as wrong:
                time.sleep(0.05)  # all attempts are "in flight" together
                wrong[0] = True
            outcomes.append("wrong")
        except TooManyAttempts:
            outcomes.append("blocked")

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["blocked"] * (12 - MAX_FAILURES) + ["wrong"] * MAX_FAILURES


def test_successful_attempts_give_their_slot_back_and_the_address_is_limited_too():
    for _ in range(20):
        with pin_attempt(address="198.51.100.1", who="customer:lucky"):
            pass  # redeemed: not counted
    for index in range(MAX_FAILURES):
        with pin_attempt(address="198.51.100.2", who=f"customer:{index}") as wrong:
            wrong[0] = True
    with pytest.raises(TooManyAttempts) as blocked, pin_attempt(address="198.51.100.2", who="customer:fresh"):
        pass
    assert 14 * 60 < blocked.value.retry_after <= 15 * 60
    with pin_attempt(address="198.51.100.3", who="customer:fresh"):
        pass  # another address, another customer: free
