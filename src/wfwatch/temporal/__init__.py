"""Temporal plumbing for wfwatch: the embedded dev server and CLI-style connections."""
