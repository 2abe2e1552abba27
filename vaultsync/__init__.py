"""vaultsync: Terraform-style declarative sync for the secrets vault of EDC connectors.

Kept import-free on purpose: ``vaultsync --version`` and ``validate`` must not pay
for httpx, deepdiff or the dev-server.
"""

__version__ = "0.1.0"
