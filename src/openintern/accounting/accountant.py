"""``CostAccountant``: one per root session; every spender reports to it.

Model calls (the main loop's, summaries, sub-agents, synthesis and judge calls, billed
failed attempts) and compute jobs (every backend) are recorded in the cost ledger, and
the budget — dollars and/or tokens over the whole session — is enforced *before* each
call: the call reserves its estimated prompt cost plus the most its reply may cost, its
reply is capped to what the budget has left, and a call that cannot get a useful reply
(fewer than ``MIN_REPLY_TOKENS``) is not made. Concurrent calls (parallel sub-agents)
each reserve, so together they cannot pass the budget either; the only overshoot left is
the error of the prompt estimate (calibrated against what the provider reports).

A model with no known price never costs a silent $0: the accountant warns at the first
call, counts its tokens, and takes a price from ``model_prices`` or enforces a token
budget; a dollar budget the user set explicitly that cannot be enforced stops the session
before anything is spent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import update

from openintern.accounting.cost_ledger import CostEntry, CostLedger, SpendTotals
from openintern.accounting.prices import LITELLM_SOURCE, ComputePrice, ModelPrice
from openintern.llm.errors import LLMError
from openintern.store import Store
from openintern.store.models import SessionRow

# Below this many tokens of room for a reply, a call is not worth making.
MIN_REPLY_TOKENS = 256

Notify = Callable[[str, str], None]  # (guard, text): shown to the user as a warning


class BudgetExhausted(LLMError):
    """The next call would pass the session's budget, so it was not made."""

    def __init__(self, message: str, *, totals: SpendTotals, needed_usd: float | None = None,
                 needed_tokens: int | None = None) -> None:
        super().__init__(message)
        self.totals = totals
        # The smallest budget (dollars, tokens) under which the refused call would run.
        self.needed_usd = needed_usd
        self.needed_tokens = needed_tokens


@dataclass(frozen=True)
class Budget:
    """A root session's limits over everything it spends (None: no limit)."""

    usd: float | None = None
    tokens: int | None = None
    # The user set ``usd`` (flag or setting), rather than the headless default.
    usd_explicit: bool = False

    def __post_init__(self) -> None:
        if self.usd is not None and self.usd < 0:
            raise ValueError(f"the budget must be zero or more dollars, got {self.usd}")
        if self.tokens is not None and self.tokens < 0:
            raise ValueError(f"the token budget must be zero or more, got {self.tokens}")


@dataclass
class Reservation:
    """What one call set aside before it was made; settled when it ends."""

    model: str
    price: ModelPrice | None
    prompt_estimate: int  # calibrated
    raw_prompt_estimate: int  # the harness estimator's figure
    completion_cap: int
    usd: float
    tokens: int


class CostAccountant:
    """See the module docstring. Thread-safe: reservations happen on the event loop,
    records from worker threads."""

    def __init__(
        self,
        store: Store,
        root_session_id: str,
        budget: Budget,
        *,
        compute_prices: dict[str, ComputePrice] | None = None,
        notify: Notify | None = None,
    ) -> None:
        self.store = store
        self.root_session_id = root_session_id
        self.budget = budget
        self.compute_prices = dict(compute_prices or {})
        self.notify = notify
        self.ledger = CostLedger(store)
        self._lock = threading.RLock()
        self._totals = self.ledger.totals(root_session_id)
        self._inflight_usd = 0.0
        self._inflight_tokens = 0
        # Provider prompt tokens / our estimate, per model (our estimator is a fixed ratio).
        self._calibration: dict[str, float] = {}
        self._warned: set[str] = set()

    # --- reading ---------------------------------------------------------------------
    @property
    def totals(self) -> SpendTotals:
        """What has been spent so far (a copy)."""
        with self._lock:
            t = self._totals
            return SpendTotals(t.usd, t.reserved_usd, t.tokens, t.unpriced_tokens, t.calls)

    def set_budget(self, budget: Budget) -> None:
        """Change the limits (the web page's "raise budget")."""
        self.budget = budget

    def remaining_tokens(self) -> int | None:
        """Tokens left under the token budget (None without one)."""
        if self.budget.tokens is None:
            return None
        with self._lock:
            return max(0, self.budget.tokens - self._totals.tokens - self._inflight_tokens)

    def warn_once(self, key: str, text: str) -> None:
        """Tell the user ``text`` once per session (per ``key``)."""
        if key in self._warned:
            return
        self._warned.add(key)
        if self.notify is not None:
            self.notify("cost", text)

    # --- before a call ---------------------------------------------------------------
    def check_price(self, model: str, price: ModelPrice | None) -> None:
        """Warn (once) about an unpriced model; refuse when the user's dollar budget can
        be enforced neither in dollars nor in tokens."""
        if price is not None:
            return
        b = self.budget
        if b.usd is not None and b.usd_explicit and b.tokens is None:
            raise BudgetExhausted(
                f"the ${b.usd:g} budget cannot be enforced: no price for {model}. Give one "
                "in model_prices (input_per_mtok, output_per_mtok) or set --token-budget; "
                f"e.g. model_prices = {{\"{model}\" = {{input_per_mtok = 3.0, "
                "output_per_mtok = 15.0}}",
                totals=self.totals)
        limit = (f"the {b.tokens:,}-token budget applies" if b.tokens is not None
                 else "set --token-budget to bound it")
        default = f"; the default ${b.usd:g} budget cannot apply" if b.usd is not None else ""
        self.warn_once(
            f"unpriced:{model}",
            f"model {model} has no price: its tokens are counted, its dollars are not (set "
            f"model_prices){default}; {limit}.")

    def reserve(self, model: str, price: ModelPrice | None, prompt_estimate: int,
                max_tokens: int) -> Reservation:
        """Set aside the cost of the next call, or raise :class:`BudgetExhausted` when
        no useful call fits. Returns the reservation; its ``completion_cap`` is the most
        tokens the reply may have."""
        self.check_price(model, price)
        with self._lock:
            prompt = int(prompt_estimate * max(1.0, self._calibration.get(model, 1.0)))
            cap = max_tokens
            spent = self._totals.committed_usd + self._inflight_usd
            reasons: list[str] = []
            needed_usd: float | None = None
            needed_tokens: int | None = None
            if self.budget.usd is not None and price is not None:
                prompt_usd = price.cost_usd(prompt, 0)
                room = self.budget.usd - spent - prompt_usd
                cap = min(cap, price.completion_tokens_for(max(0.0, room)))
                if cap < MIN_REPLY_TOKENS:
                    needed_usd = spent + prompt_usd + price.cost_usd(0, MIN_REPLY_TOKENS)
                    reasons.append(
                        f"${spent:.4f} of the ${self.budget.usd:g} budget is spent or "
                        f"committed and the next call would cost about ${prompt_usd:.4f} "
                        f"for its prompt plus up to ${price.cost_usd(0, MIN_REPLY_TOKENS):.4f}"
                        " for a short reply")
            if self.budget.tokens is not None:
                used = self._totals.tokens + self._inflight_tokens
                room_tokens = self.budget.tokens - used - prompt
                cap = min(cap, max(0, room_tokens))
                if room_tokens < MIN_REPLY_TOKENS:
                    needed_tokens = used + prompt + MIN_REPLY_TOKENS
                    reasons.append(
                        f"{used:,} of the {self.budget.tokens:,}-token budget are used and "
                        f"the next request alone needs about {prompt:,}")
            if reasons:
                raise BudgetExhausted("budget reached: " + "; ".join(reasons),
                                      totals=self.totals, needed_usd=needed_usd,
                                      needed_tokens=needed_tokens)
            usd = price.cost_usd(prompt, cap) if price is not None else 0.0
            reservation = Reservation(model, price, prompt, prompt_estimate, cap, usd, prompt + cap)
            self._inflight_usd += usd
            self._inflight_tokens += reservation.tokens
            return reservation

    def release(self, reservation: Reservation) -> None:
        """Give back a reservation whose call never produced a reply."""
        with self._lock:
            self.release_locked(reservation)

    # --- after a call ----------------------------------------------------------------
    def record_call(self, reservation: Reservation, *, kind: str, session_id: str,
                    prompt_tokens: int, completion_tokens: int, cached_tokens: int,
                    provider_cost_usd: float, retries: int = 0,
                    detail: dict[str, object] | None = None) -> float:
        """Record a finished call (blocking: a worker thread in async code); returns its
        cost in dollars (the user's price wins over the provider table's)."""
        price = reservation.price
        if price is not None and (price.source != LITELLM_SOURCE or provider_cost_usd <= 0):
            # The user's price, or LiteLLM's per-token figures where it gave no total.
            cost = price.cost_usd(prompt_tokens, completion_tokens, cached_tokens)
        else:
            cost = provider_cost_usd
        priced = price is not None or provider_cost_usd > 0
        entry = CostEntry(
            root_session_id=self.root_session_id, session_id=session_id, kind=kind,
            model=reservation.model, prompt_tokens=prompt_tokens,
            cached_tokens=cached_tokens, completion_tokens=completion_tokens,
            cost_usd=cost, priced=priced,
            detail={"retries": retries, "price": price.source if price else "unpriced",
                    **(detail or {})},
        )
        self._write(entry, main_loop_call=kind == "model"
                    and session_id == self.root_session_id)
        with self._lock:
            self.release_locked(reservation)
            if reservation.raw_prompt_estimate > 0 and prompt_tokens > 0:
                ratio = prompt_tokens / reservation.raw_prompt_estimate
                self._calibration[reservation.model] = min(4.0, max(1.0, ratio))
        return cost

    def record_failed_attempt(self, reservation: Reservation, *, session_id: str,
                              streamed_tokens: int, reason: str) -> None:
        """A retried attempt that had streamed text: the provider processed (and bills)
        its prompt and what it generated, though no reply came of it."""
        price = reservation.price
        cost = price.cost_usd(reservation.prompt_estimate, streamed_tokens) if price else 0.0
        self._write(CostEntry(
            root_session_id=self.root_session_id, session_id=session_id, kind="retry",
            model=reservation.model, prompt_tokens=reservation.prompt_estimate,
            completion_tokens=streamed_tokens, cost_usd=cost, priced=price is not None,
            detail={"estimated": True, "reason": reason[:200]},
        ), main_loop_call=False)

    def release_locked(self, reservation: Reservation) -> None:
        """:meth:`release` for callers that hold the lock."""
        self._inflight_usd = max(0.0, self._inflight_usd - reservation.usd)
        self._inflight_tokens = max(0, self._inflight_tokens - reservation.tokens)

    def record_compute(self, entry: CostEntry) -> int:
        """Record a compute entry (a launch forecast or a finished job's actual)."""
        entry.root_session_id = self.root_session_id
        return self._write(entry, main_loop_call=False)

    def settle_compute(self, forecast: CostEntry, *, cost_usd: float, gpu_hours: float,
                       cpu_hours: float, detail: dict[str, object]) -> bool:
        """Turn a job's forecast into its actual (blocking); False when another
        observer already did."""
        assert forecast.id is not None
        if not self.ledger.settle(forecast.id, cost_usd=cost_usd, gpu_hours=gpu_hours,
                                  cpu_hours=cpu_hours, detail={**forecast.detail, **detail}):
            return False
        with self._lock:
            self._totals.reserved_usd = max(0.0, self._totals.reserved_usd
                                            - (forecast.forecast_usd or 0.0))
            self._totals.usd += cost_usd
        self._add_to_session_total(cost_usd)
        return True

    # --- internals -------------------------------------------------------------------
    def _write(self, entry: CostEntry, *, main_loop_call: bool) -> int:
        entry_id = self.ledger.add(entry)
        with self._lock:
            t = self._totals
            if entry.status == "forecast":
                t.reserved_usd += entry.forecast_usd or 0.0
            else:
                t.usd += entry.cost_usd
            if entry.kind != "compute":
                t.tokens += entry.tokens
                t.calls += 1
                if not entry.priced:
                    t.unpriced_tokens += entry.tokens
        # The main loop adds its own calls to the session's totals; everything else is
        # added here, so the root session's cost is the whole.
        if not main_loop_call and entry.status == "actual" and entry.cost_usd:
            self._add_to_session_total(entry.cost_usd)
        return entry_id

    def _add_to_session_total(self, usd: float) -> None:
        if not usd:
            return
        with self.store.db() as db:
            db.execute(update(SessionRow).where(SessionRow.id == self.root_session_id)
                       .values(total_cost_usd=SessionRow.total_cost_usd + usd))
