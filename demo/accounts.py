"""The demo logins; free of Django imports so the launcher can print them before Django starts."""

DEMO_PASSWORDS = {"shopper": "shop-demo-2026", "staff": "staff-demo-2026", "admin": "admin-demo-2026"}
