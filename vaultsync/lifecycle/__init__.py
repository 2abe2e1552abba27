"""A secret's life beyond create/update/delete: several files per connector, generated values,
forced rewrites, renames (``moved``), protection and targeting.

``files`` expands and merges desired-state files, ``generate`` makes values, ``selection`` holds
--target/--exclude/--replace, ``planning`` turns the plain diff into a lifecycle-aware plan (pure),
``moves`` carries out renames against the vault and ``record`` computes the next state's flags.
"""
