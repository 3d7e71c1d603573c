"""wfwatch."""
