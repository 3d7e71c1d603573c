"""The demo agent: a multi-turn session workflow, sub-agents, a scripted model."""
