"""The Content-Security-Policy middleware (django-csp), with the one allowance the admin needs.

Every page gets settings.CONTENT_SECURITY_POLICY. The admin's own templates set a few inline style
attributes (the training job's progress bar width), which style-src 'self' blocks; under /admin/
only, inline style *attributes* are allowed (never inline scripts or <style> elements).
"""

from __future__ import annotations

from csp.constants import UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest, HttpResponseBase

ADMIN_PREFIX = "/admin/"


class SitePolicyMiddleware(CSPMiddleware):
    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if request.path.startswith(ADMIN_PREFIX):
            parts.update = {**(parts.update or {}), "style-src-attr": [UNSAFE_INLINE]}
        return parts
