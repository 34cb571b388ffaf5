"""The allocator: the allocator interface, the hierarchical DRF allocator process and the pure
sorters it ranks roles and frameworks with (port of `src/master/allocator/`)."""
