"""The demo agent implements the contract the dashboard, bridge and CLI rely on (wfwatch.contract).

Neither side imports the other, so a renamed handler or workflow type would
only show up as a steering or listing failure at run time; this catches it.
"""

from __future__ import annotations

from temporalio import workflow

from wfwatch import contract
from wfwatch.agents import shared
from wfwatch.agents.workflows import AgentSession


def test_the_session_workflow_has_the_type_and_handlers_the_contract_names() -> None:
    definition = workflow._Definition.must_from_class(AgentSession)
    assert definition.name == contract.SESSION_WORKFLOW_TYPE
    assert contract.SEND_MESSAGE_UPDATE in definition.updates
    assert contract.CANCEL_TURN_SIGNAL in definition.signals
    assert contract.INFO_QUERY in definition.queries


def test_the_agent_returns_the_contracts_result_types() -> None:
    assert shared.SendResult is contract.SendResult
    assert shared.SessionInfo is contract.SessionInfo
