"""Sample frameworks written only against `mesos.interface` / `mesos.native`."""
