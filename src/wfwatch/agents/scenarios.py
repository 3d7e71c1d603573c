"""What the scripted model talks about: a pool of operations scenarios, as plain data.

Each scenario is a task an on-call engineer hands an assistant (summarise a
deploy, triage an incident, review a change, plan capacity...), with the
whole sentences each role may say about it, the tool call it makes and that
tool's result. :mod:`wfwatch.agents.model` composes answers from these
sentences; nothing here is random or time-dependent, so the demo is the same
on every run and every retry.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToolScript:
    """One tool call a scenario makes, and what the stand-in tool answers."""

    name: str
    arguments: dict[str, Any]
    result: dict[str, Any]

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments, separators=(",", ":"))

    @property
    def result_json(self) -> str:
        return json.dumps(self.result, separators=(",", ":"))


@dataclass(frozen=True)
class Scenario:
    """A task, and the whole sentences each role says about it.

    The first sentence of a pool always leads; the rest follow in an order
    the prompt picks, so different prompts read differently.
    """

    key: str
    prompts: tuple[str, ...]
    #: Words in a free-form user message that point at this scenario.
    keywords: tuple[str, ...]
    tool: ToolScript
    #: Reasoning-channel sentences: short planning before the answer.
    thinking: tuple[str, ...]
    #: Sentences per role ("planner", "writer", "researcher", "critic").
    says: dict[str, tuple[str, ...]] = field(default_factory=dict)


#: Role-flavoured reasoning any scenario can use, after its own thinking.
ROLE_THINKING: dict[str, tuple[str, ...]] = {
    "planner": (
        "First I will pin down what the user actually needs.",
        "I should look at the data before drawing conclusions.",
        "One tool call should be enough to ground the answer.",
    ),
    "writer": (
        "The tool result is in, so I can write this up now.",
        "Lead with the conclusion, then the evidence.",
        "Keep it short enough to paste into the channel.",
    ),
    "researcher": (
        "My job is facts, not opinions.",
        "I will collect the numbers and cite where each came from.",
        "Anything I cannot verify gets marked as unverified.",
    ),
    "critic": (
        "My job is to find what is wrong or missing.",
        "I will check the claims against the tool output.",
        "Assume the happy path hides something.",
    ),
}

#: Roles without a pool of their own speak like this one.
FALLBACK_ROLE = "writer"

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        key="deploy-summary",
        prompts=(
            "summarize deploy d-2291 of checkout",
            "what went out in the last checkout deploy?",
            "draft a status update for the team about today's deploy",
        ),
        keywords=("deploy", "release", "rollout", "shipped", "status update"),
        tool=ToolScript(
            name="get_deploy",
            arguments={"id": "d-2291"},
            result={
                "id": "d-2291",
                "service": "checkout",
                "version": "v4.18.0",
                "status": "succeeded",
                "canary": "passed",
                "duration": "11m",
                "commits": 7,
            },
        ),
        thinking=(
            "The user wants a deploy summary, so I need the deploy record.",
            "I will fetch d-2291 and check whether the canary passed.",
            "If error rates moved after the rollout, that belongs in the summary.",
        ),
        says={
            "planner": (
                "Plan: fetch deploy d-2291 with get_deploy, then summarise it for the team.",
                "I will start with get_deploy for the version, status and canary result.",
                "Then I will compare error rates before and after the rollout.",
                "I also want the list of commits that went out with it.",
                "Finally I will write a short summary with any follow-ups.",
                "If the canary failed I will flag a rollback instead.",
            ),
            "writer": (
                "Deploy d-2291 shipped checkout v4.18.0 to production in 11 minutes.",
                "The canary passed and the rollout finished without manual steps.",
                "It carried seven commits, mostly the new address validation.",
                "Error rates stayed flat at 0.2 percent through the rollout.",
                "p95 latency rose from 180 ms to 195 ms, within the budget.",
                "No rollback is needed and no alerts fired during the window.",
                "Follow-up: watch the address validation errors for a day.",
            ),
            "researcher": (
                "Deploy d-2291 is checkout v4.18.0, status succeeded, canary passed.",
                "It ran for 11 minutes and included seven commits.",
                "The largest change is the address validation rewrite in commit 3.",
                "Error rate before and after the rollout is 0.2 percent.",
                "Nothing in the record shows a manual approval or a retry.",
            ),
            "critic": (
                "The summary says latency is fine but skips the p99 numbers.",
                "Seven commits went out together, which makes a rollback coarse.",
                "The canary ran for only four minutes at low traffic.",
                "Nobody checked the address validation errors by region yet.",
            ),
        },
    ),
    Scenario(
        key="incident-triage",
        prompts=(
            "checkout is throwing 500s, triage it",
            "why did the payment alerts fire at 02:10?",
            "what is the blast radius of the checkout errors?",
        ),
        keywords=("incident", "error", "errors", "500", "alert", "outage", "down", "failing", "fail"),
        tool=ToolScript(
            name="search_logs",
            arguments={"service": "checkout", "since": "15m", "level": "error"},
            result={
                "matches": 412,
                "top_error": "upstream timeout: payments-api",
                "first_seen": "02:09:41Z",
                "pods": ["checkout-7f9c", "checkout-b21d"],
                "sample": "POST /pay 504 after 30001ms",
            },
        ),
        thinking=(
            "This sounds like an active incident, so speed matters more than polish.",
            "I will pull the last 15 minutes of checkout error logs.",
            "The first error timestamp tells me what changed around then.",
        ),
        says={
            "planner": (
                "Plan: find the dominant error with search_logs, then the component behind it.",
                "I will start with search_logs on checkout for errors in the last 15 minutes.",
                "Then I will match the first error time against deploys and alerts.",
                "I also need to confirm that payments-api is the real source.",
                "Then I will estimate the blast radius and suggest a mitigation.",
                "I will not restart anything before the cause is clear.",
            ),
            "writer": (
                "Checkout has logged 412 errors in the last 15 minutes.",
                "Almost all are upstream timeouts from payments-api after 30 seconds.",
                "The first one appeared at 02:09:41, a minute before the alert.",
                "Two pods are affected, so this is not a single bad host.",
                "Customers see a failed payment and can retry, so orders are delayed, not lost.",
                "Mitigation: lower the payments timeout to 5 seconds and page the payments on-call.",
                "Severity two until payments-api recovers.",
            ),
            "researcher": (
                "There are 412 error lines for checkout since 02:09:41.",
                "The top error is an upstream timeout calling payments-api.",
                "Errors come from pods checkout-7f9c and checkout-b21d.",
                "A sample request is POST /pay returning 504 after 30 seconds.",
                "No checkout deploy happened in the hour before the first error.",
            ),
            "critic": (
                "The triage blames payments-api without looking at its own logs.",
                "A 30 second timeout means the queue may already be backed up.",
                "Two pods is all of checkout, so the blast radius is every user.",
                "Lowering the timeout could turn slow payments into double charges.",
            ),
        },
    ),
    Scenario(
        key="change-review",
        prompts=(
            "review PR 1187 before it merges",
            "is the retry change in PR 1187 safe?",
        ),
        keywords=("review", "pr", "pull request", "diff", "change", "merge"),
        tool=ToolScript(
            name="get_pull_request",
            arguments={"repo": "payments", "number": 1187},
            result={
                "title": "Retry card authorisation on timeout",
                "files_changed": 4,
                "additions": 86,
                "deletions": 12,
                "tests_added": 2,
                "checks": "passing",
            },
        ),
        thinking=(
            "A review needs the diff, not just the description.",
            "Retries around payments are risky, so I will look for idempotency.",
            "Passing checks do not prove the retry path is tested.",
        ),
        says={
            "planner": (
                "Plan: read PR 1187 with get_pull_request, then judge whether the retry is safe.",
                "I will start with get_pull_request for the diff and the check status.",
                "Then I will find where the retry wraps the card authorisation call.",
                "The key question is whether each retry reuses the idempotency key.",
                "Then I will list blocking issues first and nits last.",
            ),
            "writer": (
                "PR 1187 retries card authorisation when the gateway times out.",
                "It touches four files, adds 86 lines and two tests, and checks pass.",
                "The retry reuses the idempotency key, so a customer is charged once.",
                "Blocking: the retry has no cap on total time, only on attempts.",
                "Non-blocking: the backoff constant deserves a comment.",
                "Approve once a deadline of about ten seconds is added.",
            ),
            "researcher": (
                "PR 1187 is titled Retry card authorisation on timeout.",
                "It changes four files with 86 additions and 12 deletions.",
                "Two new tests cover the timeout path and checks are passing.",
                "The gateway documents that idempotency keys last 24 hours.",
                "Similar retries in refunds were added last quarter without incident.",
            ),
            "critic": (
                "The tests only cover one timeout, never two in a row.",
                "Nothing bounds how long a checkout waits across all retries.",
                "A retry after a slow success could still confuse the ledger.",
                "The PR description does not say how this was tested in staging.",
            ),
        },
    ),
    Scenario(
        key="capacity-planning",
        prompts=(
            "will the orders database survive Black Friday?",
            "plan capacity for the orders cluster next month",
        ),
        keywords=("capacity", "scale", "scaling", "black friday", "traffic", "load", "headroom"),
        tool=ToolScript(
            name="query_metrics",
            arguments={"metric": "db_cpu_p95", "cluster": "orders-pg", "range": "30d"},
            result={
                "current_p95": "58%",
                "peak_p95": "71%",
                "growth_per_week": "3.5%",
                "connections_peak": 840,
                "connections_limit": 1000,
            },
        ),
        thinking=(
            "Capacity questions need the trend, not a single day.",
            "I will pull 30 days of CPU and connection metrics for orders-pg.",
            "Peak traffic is roughly three times normal, so I will scale from there.",
        ),
        says={
            "planner": (
                "Plan: measure today's headroom with query_metrics, then project it to the peak.",
                "I will start with query_metrics for CPU p95 over the last 30 days.",
                "Then I will check connection counts against the pool limit.",
                "Both numbers then get projected to peak traffic.",
                "Then I will recommend what to change and by when.",
            ),
            "writer": (
                "The orders database will not survive a peak day as it is today.",
                "CPU p95 is 58 percent with a 30 day peak of 71 percent.",
                "Connections already peak at 840 of a 1000 limit.",
                "At three times normal traffic both limits are crossed within the first hour.",
                "Add two read replicas and move reporting queries to them.",
                "Put a connection pooler in front before raising the limit.",
                "Both changes should land two weeks before the peak for a load test.",
            ),
            "researcher": (
                "CPU p95 on orders-pg is 58 percent today and peaked at 71 percent.",
                "Load has grown about 3.5 percent a week for the last month.",
                "Peak connections were 840 against a limit of 1000.",
                "Last year's peak day ran at about three times normal traffic.",
                "Reporting queries make up roughly a fifth of the read load.",
            ),
            "critic": (
                "The projection assumes traffic scales linearly, which it rarely does.",
                "Replicas help reads, but the write path is the real bottleneck.",
                "Nobody has load tested the pooler with this query mix.",
                "Two weeks of lead time is tight if the replicas need new hardware.",
            ),
        },
    ),
    Scenario(
        key="slow-step",
        prompts=(
            "which step was slowest and why",
            "why did the nightly billing run take twice as long?",
        ),
        keywords=("slow", "slowest", "latency", "duration", "took", "long", "yesterday", "compare"),
        tool=ToolScript(
            name="get_workflow_history",
            arguments={"workflow_id": "billing-nightly-1122", "summary": True},
            result={
                "total": "48m",
                "slowest_step": "reconcile_invoices",
                "slowest_duration": "31m",
                "retries": 3,
                "previous_total": "22m",
            },
        ),
        thinking=(
            "To find a slow step I need per-step timings, not the total.",
            "The workflow history has every activity with its duration.",
            "Retries often explain a sudden doubling.",
        ),
        says={
            "planner": (
                "Plan: read the run's history with get_workflow_history, then explain the slowest step.",
                "I will start with get_workflow_history for billing-nightly-1122.",
                "Then I will rank the steps by duration against the previous run.",
                "Retries and their backoff on the slow step need a look too.",
                "Then I will say what to fix first.",
            ),
            "writer": (
                "The nightly billing run took 48 minutes against 22 the night before.",
                "Most of it is reconcile_invoices, which ran for 31 minutes.",
                "That step retried three times after the ledger API timed out.",
                "Each retry started from scratch, so the work was done four times.",
                "Fix: checkpoint progress with heartbeats so a retry resumes.",
                "The other steps ran at their usual speed.",
            ),
            "researcher": (
                "Run billing-nightly-1122 took 48 minutes in total.",
                "The previous run took 22 minutes.",
                "reconcile_invoices took 31 minutes and retried three times.",
                "Each failed attempt ended with a ledger API timeout.",
                "The step does not heartbeat, so it cannot resume its progress.",
            ),
            "critic": (
                "Three retries are a symptom, and the ledger timeouts are the cause.",
                "Heartbeats fix the repeated work but not the slow ledger calls.",
                "One slow night is not a trend yet.",
                "Nobody checked whether invoice volume grew this month.",
            ),
        },
    ),
    Scenario(
        key="retry-budget",
        prompts=(
            "check the retry budget of the payment flow",
            "are we retrying payments too aggressively?",
        ),
        keywords=("retry", "retries", "budget", "backoff", "payment", "payments"),
        tool=ToolScript(
            name="get_retry_policy",
            arguments={"workflow": "PaymentFlow", "activity": "charge_card"},
            result={
                "initial_interval": "1s",
                "backoff": 2.0,
                "maximum_attempts": 8,
                "retry_rate_24h": "4.1%",
                "exhausted_24h": 17,
            },
        ),
        thinking=(
            "A retry budget is about how often retries happen and how many run out.",
            "I will read the policy on charge_card and its last day of retries.",
            "Eight attempts with doubling backoff is over four minutes of waiting.",
        ),
        says={
            "planner": (
                "Plan: read the policy with get_retry_policy, then compare it with real retry rates.",
                "I will start with get_retry_policy for charge_card in PaymentFlow.",
                "Then I will work out the worst case wait the policy allows.",
                "I also want to know how many payments ran out of attempts.",
                "Then I will recommend a policy change if the numbers justify one.",
            ),
            "writer": (
                "charge_card retries up to eight times, starting at one second and doubling.",
                "In the worst case a payment waits about four minutes before failing.",
                "Over the last day 4.1 percent of calls retried at least once.",
                "Only 17 payments exhausted every attempt.",
                "The budget is healthy, but eight attempts is more than the card gateway needs.",
                "Recommendation: cap attempts at five and alert when retries pass five percent.",
            ),
            "researcher": (
                "The charge_card policy starts at one second with a backoff of 2.0.",
                "It allows at most eight attempts.",
                "In the last 24 hours 4.1 percent of calls retried.",
                "Seventeen payments used every attempt and then failed.",
                "The gateway's own guidance is at most five retries.",
            ),
            "critic": (
                "Four minutes of retries is longer than a customer waits at checkout.",
                "The retry rate hides which error codes are being retried.",
                "Declined cards should never be retried at all.",
                "Capping attempts without an alert just hides the failures.",
            ),
        },
    ),
)

#: Every scenario's prompts, in order: the pool a long-running session picks its turns from.
AUTO_PROMPTS: tuple[str, ...] = tuple(prompt for scenario in SCENARIOS for prompt in scenario.prompts)

_BY_PROMPT: dict[str, Scenario] = {prompt: scenario for scenario in SCENARIOS for prompt in scenario.prompts}
_BY_TOOL: dict[tuple[str, str], ToolScript] = {(s.tool.name, s.tool.arguments_json): s.tool for s in SCENARIOS}


def digest(*parts: object) -> int:
    """A stable integer from ``parts`` (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "big")


def scenario_for(prompt: str) -> Scenario:
    """The scenario a prompt is about: its own, else by keyword, else picked by the prompt's digest."""
    if prompt in _BY_PROMPT:
        return _BY_PROMPT[prompt]
    text = prompt.lower()
    best, hits = None, 0
    for scenario in SCENARIOS:
        found = sum(1 for keyword in scenario.keywords if re.search(rf"\b{re.escape(keyword)}\b", text))
        if found > hits:
            best, hits = scenario, found
    return best or SCENARIOS[digest("scenario", prompt) % len(SCENARIOS)]


def auto_prompt(session_id: str, index: int) -> str:
    """The ``index``-th made-up user message of a session: every prompt once per cycle, in a per-session order."""
    count = len(AUTO_PROMPTS)
    start = digest("start", session_id) % count
    strides = [s for s in range(1, count) if _coprime(s, count)]
    stride = strides[digest("stride", session_id) % len(strides)]
    return AUTO_PROMPTS[(start + index * stride) % count]


def tool_call_for(prompt: str) -> ToolScript:
    return scenario_for(prompt).tool


def tool_result(name: str, arguments: str) -> str:
    """What the stand-in tool returns: the scenario's result, or a small acknowledgement for other calls."""
    script = _BY_TOOL.get((name, arguments))
    if script is not None:
        return script.result_json
    return json.dumps({"ok": True, "tool": name, "ref": f"{digest(name, arguments) % 16**8:08x}"})


def _coprime(a: int, b: int) -> bool:
    while b:
        a, b = b, a % b
    return a == 1
