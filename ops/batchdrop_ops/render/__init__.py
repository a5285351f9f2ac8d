"""The operator commands' text: pure functions of typed jobs and the bucket's JSON, no I/O."""
