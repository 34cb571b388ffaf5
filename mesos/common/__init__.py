"""Pure helpers shared by every component: resources, attributes, flags, durations, bytes and
the Mesos JSON model of protobufs."""
