"""Conversations with LINE friends, channel-neutral: friends, messages, read state, paging, the inbox.

The layer under both the LINE gateway (crm/line_platform, which writes incoming
messages and sends outgoing ones) and the LINE tab (crm/line_tab, the UI). It
imports neither of them.
"""
