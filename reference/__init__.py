"""Reference data shipped with auditor: rules, patterns, lexicons, taxonomy and literature values.

Installed as the package ``auditor.reference_data``; read it through :mod:`auditor.reference`'s loader only.
"""
