"""ご利用中プラン: the owner's plan page, changing a shop's plan, and the gate over the LINE blueprints.

The rules themselves (which plan has the LINE tab) are the shop's: crm/shops/plans.py.
"""
