"""Test and benchmark support that speaks the Mesos protocols (not used by the daemons)."""
