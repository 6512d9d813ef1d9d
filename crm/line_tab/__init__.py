"""The LINE tab of the customer ledger."""
