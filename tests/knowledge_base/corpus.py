"""A search-relevance corpus: 50 help-center articles and 20 queries with the article a
reader expects first."""

from __future__ import annotations

# ruff: noqa: E501

ARTICLES: list[tuple[str, str]] = [
    (
        "Reset your password",
        "Forgot your password? Open the sign-in page, choose 'Forgot password' and follow the link we email you. The link expires after one hour.",
    ),
    (
        "Change your email address",
        "Go to Profile, then Account, and enter the new address. We send a confirmation message to both addresses.",
    ),
    (
        "Enable two-factor authentication",
        "Protect your account with a second factor. Scan the QR code with an authenticator app and enter the six-digit code.",
    ),
    (
        "Recover a locked account",
        "After five failed sign-in attempts the account is locked for fifteen minutes. Contact support if it stays locked.",
    ),
    (
        "Delete your account",
        "Deleting your account removes all projects and invoices permanently. Export your data first.",
    ),
    (
        "Export your data",
        "Download a ZIP archive of your projects, comments and attachments from Settings, Privacy, Export.",
    ),
    (
        "Update billing details",
        "Change the card on file, the billing address or the VAT number under Billing, Payment methods.",
    ),
    (
        "Download an invoice",
        "Every invoice is available as a PDF under Billing, History. Invoices are issued on the first day of the month.",
    ),
    (
        "Request a refund",
        "Refunds are possible within 14 days of purchase. Open a ticket with your order number and the reason.",
    ),
    (
        "Cancel your subscription",
        "Cancel any time under Billing, Plan. Your plan stays active until the end of the paid period.",
    ),
    (
        "Upgrade or downgrade your plan",
        "Switch between the Starter, Team and Enterprise plans. Upgrades are prorated immediately.",
    ),
    (
        "Accepted payment methods",
        "We accept credit cards, SEPA direct debit and PayPal. Bank transfer is available for annual Enterprise plans.",
    ),
    (
        "Printer is offline",
        "If the printer shows offline, restart it, check the network cable and make sure the print spooler service runs.",
    ),
    (
        "Install the printer driver",
        "Download the driver for Windows or macOS from the downloads page and run the installer as administrator.",
    ),
    (
        "Paper jam",
        "Open the front cover, remove the jammed paper slowly in the direction of the paper path and close the cover.",
    ),
    (
        "Scanner does not save files",
        "Choose a destination folder in the scanner settings and check that the disk is not full.",
    ),
    (
        "Connect to the office VPN",
        "Install the VPN client, import the profile from the IT portal and sign in with your company account.",
    ),
    (
        "VPN disconnects frequently",
        "Frequent VPN drops usually come from an unstable Wi-Fi. Use a cable or switch the VPN protocol to TCP.",
    ),
    (
        "Set up Wi-Fi on a laptop",
        "Select the office network, enter your company credentials and accept the certificate.",
    ),
    (
        "Email is not syncing on mobile",
        "Remove the mail account from the phone and add it again with the IMAP settings from the IT portal.",
    ),
    (
        "Configure an out-of-office reply",
        "In the mail client, open Automatic replies, write the message and choose the dates.",
    ),
    (
        "Share a calendar",
        "Open the calendar settings, choose Share, and add colleagues with view or edit rights.",
    ),
    (
        "Increase mailbox storage",
        "Archive old messages or ask IT for a larger mailbox; the default quota is 50 GB.",
    ),
    (
        "Create an API token",
        "Generate a personal API token under Settings, Developer. Tokens inherit your permissions.",
    ),
    (
        "Rate limits of the API",
        "The API allows 600 requests per minute per token. A 429 response tells you when to retry.",
    ),
    (
        "Webhooks",
        "Register a webhook URL to receive events when tickets change. We sign every delivery with HMAC.",
    ),
    (
        "Invite team members",
        "Admins invite colleagues by email under Team. Invitations expire after seven days.",
    ),
    (
        "Roles and permissions",
        "Agents work tickets; admins also manage teams, members and billing.",
    ),
    (
        "Single sign-on with SAML",
        "Enterprise plans connect an identity provider through SAML 2.0. Upload the metadata XML.",
    ),
    (
        "Import tickets from CSV",
        "Upload a CSV file with title, description and requester columns; we map the rest.",
    ),
    (
        "Keyboard shortcuts",
        "Press ? anywhere to see shortcuts: j and k move between tickets, r replies, e archives.",
    ),
    ("Dark mode", "Turn on dark mode under Profile, Appearance, or follow the system setting."),
    (
        "Mobile app installation",
        "Get the app from the App Store or Google Play and sign in with your workspace URL.",
    ),
    (
        "Push notifications are missing",
        "Allow notifications for the app in the phone settings and check Do Not Disturb.",
    ),
    (
        "Change the interface language",
        "Choose among twelve languages under Profile, Language; dates follow your locale.",
    ),
    (
        "Time zone settings",
        "Set your time zone under Profile so that due dates and reports show your local time.",
    ),
    (
        "Merge duplicate tickets",
        "Select two tickets from the same requester and choose Merge; replies are combined.",
    ),
    (
        "Ticket priorities explained",
        "Low, medium, high and urgent decide the order of the queue and the response targets.",
    ),
    (
        "Service level agreements",
        "SLA targets measure first response and resolution times per priority.",
    ),
    (
        "Automations and triggers",
        "Triggers run when a ticket is created or updated, for example to route it to a team.",
    ),
    ("Canned responses", "Save frequent replies as macros and insert them with a shortcut."),
    (
        "Customer satisfaction surveys",
        "After a ticket is solved, the requester can rate the support from one to five stars.",
    ),
    (
        "Data retention policy",
        "Closed tickets are kept for seven years, then deleted with their attachments.",
    ),
    (
        "GDPR data processing agreement",
        "Download the signed data processing agreement from the Legal page.",
    ),
    ("Security and encryption", "Data is encrypted in transit with TLS and at rest with AES-256."),
    (
        "System status and outages",
        "Check the status page for incidents and subscribe to outage notifications.",
    ),
    (
        "Browser requirements",
        "Use a current version of Chrome, Firefox, Safari or Edge; Internet Explorer is not supported.",
    ),
    (
        "Clear the browser cache",
        "Stale pages are fixed by clearing the cache and cookies and reloading.",
    ),
    ("Upload attachments", "Attach files up to 25 MB to replies by dragging them into the editor."),
    (
        "Contact support by phone",
        "Enterprise customers reach the phone line on weekdays from 8 to 18 CET.",
    ),
]

# (query, the title expected first)
QUERIES: list[tuple[str, str]] = [
    ("forgot password", "Reset your password"),
    ("refund", "Request a refund"),
    ("invoice pdf", "Download an invoice"),
    ("printer offline", "Printer is offline"),
    ("paper jam", "Paper jam"),
    ("vpn disconnects", "VPN disconnects frequently"),
    ("two-factor", "Enable two-factor authentication"),
    ("cancel subscription", "Cancel your subscription"),
    ("export data", "Export your data"),
    ("api token", "Create an API token"),
    ("rate limit", "Rate limits of the API"),
    ("webhook", "Webhooks"),
    ("saml single sign-on", "Single sign-on with SAML"),
    ("csv import", "Import tickets from CSV"),
    ("dark mode", "Dark mode"),
    ("merge tickets", "Merge duplicate tickets"),
    ("payment methods paypal", "Accepted payment methods"),
    ("locked account", "Recover a locked account"),
    ("printer driver", "Install the printer driver"),
    ("browser cache", "Clear the browser cache"),
]
