"""The commands' work, one module per job: load, lock, read, plan, apply, record. The CLI only parses and prints.

``runtime`` (the runtime, targets, signals, the lock) ← ``planning`` ← ``applying`` ← ``saved``;
``drift``, ``importing`` and ``state`` stand on ``runtime`` (and ``planning``). The diff itself is pure and
lives in ``vaultsync.lifecycle.planning``; nothing here imports click or the CLI.
"""
