"""The Sitepass domain: tables and the rules that change them.

Every rule is a function that makes one whole change, writes its audit event and its outbox
mail, and leaves the commit to its caller.
"""
from .base import db, utcnow, write_intent  # noqa: F401
from .errors import RuleViolation  # noqa: F401
from .setting import Setting, get_setting, set_setting  # noqa: F401
from .person import AccountToken, Person  # noqa: F401
from .tool import AccessProfile, AccessProfileLevel, Tool, ToolLevel  # noqa: F401
from .tables import (AccessRequest, AccessReview, AccessReviewItem, ContactRecord, ContactType, Customer,  # noqa: F401
                     Invitation, Membership, PrimaryTransfer, Privilege, Site)
from .document import Document  # noqa: F401
from .audit import AuditEvent, record  # noqa: F401
from .throttle import ThrottleEvent  # noqa: F401
from .outbox import OutboxMail, mail, queue_mail  # noqa: F401
from .scheduler import SchedulerJob, SchedulerLease  # noqa: F401
from .api import ApiKey  # noqa: F401
from .webhook import WebhookDelivery, WebhookEndpoint  # noqa: F401
