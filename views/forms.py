"""Forms of the web pages. Validation of business rules stays in models/; these only parse."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (BooleanField, DateField, EmailField, PasswordField, RadioField, SelectField,
                     SelectMultipleField, StringField, SubmitField, TextAreaField)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import EqualTo, InputRequired, Length, Optional

from models.document import ACCEPTED_EXTENSIONS, DOCUMENT_TYPE_LABELS
from models.person import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH
from models.site import ADDITIONAL, ORIGINATING
from models.webhook import EVENTS as WEBHOOK_EVENTS

_password_hint = _l("At least %(n)d characters. A phrase of several words is easy to remember.", n=PASSWORD_MIN_LENGTH)


class SignInForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[InputRequired(), Length(max=254)],
                       render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Password"), validators=[InputRequired(), Length(max=PASSWORD_MAX_LENGTH)],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Sign in"))


class NewPasswordMixin:
    password = PasswordField(_l("Password"), description=_password_hint,
                             validators=[InputRequired(), Length(max=PASSWORD_MAX_LENGTH)],
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("Repeat password"),
                            validators=[InputRequired(), EqualTo("password", _l("The passwords do not match."))],
                            render_kw={"autocomplete": "new-password"})


class NameMixin:
    first_name = StringField(_l("First name"), validators=[InputRequired(), Length(max=100)],
                             render_kw={"autocomplete": "given-name"})
    last_name = StringField(_l("Last name"), validators=[InputRequired(), Length(max=100)],
                            render_kw={"autocomplete": "family-name"})


class SignUpForm(NameMixin, NewPasswordMixin, FlaskForm):
    email = EmailField(_l("Email"), validators=[InputRequired(), Length(max=254)],
                       render_kw={"autocomplete": "email"})
    submit = SubmitField(_l("Create account"))


class FirstRunForm(SignUpForm):
    submit = SubmitField(_l("Create operator"))


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[InputRequired(), Length(max=254)],
                       render_kw={"autocomplete": "email"})
    submit = SubmitField(_l("Send reset link"))


class ResetPasswordForm(NewPasswordMixin, FlaskForm):
    submit = SubmitField(_l("Set new password"))


class AcceptInvitationForm(NameMixin, NewPasswordMixin, FlaskForm):
    submit = SubmitField(_l("Accept invitation"))


class ConfirmAccountForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[InputRequired(), Length(max=PASSWORD_MAX_LENGTH)],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Confirm my email address"))


class ConfirmForm(FlaskForm):
    """A form with nothing but its CSRF token and a button."""
    submit = SubmitField(_l("Confirm"))


class CustomerForm(FlaskForm):
    name = StringField(_l("Customer name"), validators=[InputRequired(), Length(max=200)])
    submit = SubmitField(_l("Create customer"))


class SiteForm(FlaskForm):
    site_number = StringField(_l("Site number"), validators=[InputRequired(), Length(max=32)])
    name = StringField(_l("Site name"), validators=[InputRequired(), Length(max=200)])
    kind = RadioField(_l("Kind of site"), choices=[SelectChoice(ORIGINATING, _l("Originating site")),
                                                   SelectChoice(ADDITIONAL, _l("Additional site"))],
                      default=ORIGINATING, validators=[InputRequired()])
    primary_email = EmailField(_l("Primary contact email"), validators=[InputRequired(), Length(max=254)],
                               description=_l("An unknown address gets an invitation valid 48 hours."))
    submit = SubmitField(_l("Create site"))


class CoverageForm(FlaskForm):
    coverage_ends_on = DateField(_l("Coverage ends on"), validators=[Optional()])
    submit = SubmitField(_l("Save coverage"))


class InstanceSettingsForm(FlaskForm):
    signup_open = BooleanField(_l("Anyone may create an account (needed for self-nomination)"))
    submit = SubmitField(_l("Save settings"))


ALL_SITES, CHOSEN_CUSTOMERS = "all", "customers"


class ApiKeyForm(FlaskForm):
    """Create API key (issue 16). The customers' choices are set by the view from the database."""
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=200)],
                       description=_l("The application that uses the key, e.g. “Download server”."))
    scope = RadioField(_l("Scope"), default=ALL_SITES, validators=[InputRequired()],
                       choices=[SelectChoice(ALL_SITES, _l("All sites")),
                                SelectChoice(CHOSEN_CUSTOMERS, _l("The sites of the chosen customers"))])
    customers = SelectMultipleField(_l("Customers"), coerce=int, choices=[],
                                    description=_l("Used when the scope is the chosen customers."))
    expires_on = DateField(_l("Expires on (optional)"), validators=[Optional()],
                           description=_l("The key works until the end of this day (UTC)."))
    submit = SubmitField(_l("Create API key"))


class ApiKeyScopeForm(FlaskForm):
    """Change an API key's scope. The customers' choices are set by the view from the database."""
    scope = RadioField(_l("Scope"), default=ALL_SITES, validators=[InputRequired()],
                       choices=[SelectChoice(ALL_SITES, _l("All sites")),
                                SelectChoice(CHOSEN_CUSTOMERS, _l("The sites of the chosen customers"))])
    customers = SelectMultipleField(_l("Customers"), coerce=int, choices=[],
                                    description=_l("Used when the scope is the chosen customers."))
    submit = SubmitField(_l("Save scope"))


class AddMemberForm(FlaskForm):
    email = EmailField(_l("Login email"), validators=[InputRequired(), Length(max=254)])
    business_justification = TextAreaField(_l("Business justification"), validators=[InputRequired(), Length(max=2000)],
                                           description=_l("Why this person needs access to this site."))
    role = RadioField(_l("Role"), choices=[SelectChoice("user", _l("User")),
                                           SelectChoice("secondary", _l("Secondary contact"))],
                      default="user", validators=[InputRequired()])
    profile_id = SelectField(_l("Access profile"), choices=[], validate_choice=False, validators=[Optional()])
    submit = SubmitField(_l("Submit"))


class ProfileForm(FlaskForm):
    name = StringField(_l("Profile name"), validators=[InputRequired(), Length(max=100)])
    submit = SubmitField(_l("Save changes"))


class SelfNominationForm(FlaskForm):
    site_number = StringField(_l("Site number"), validators=[InputRequired(), Length(max=32)],
                              description=_l("Ask your company's primary contact for it."))
    company_name = StringField(_l("Company name"), validators=[InputRequired(), Length(max=200)])
    first_name = StringField(_l("First name"), validators=[InputRequired(), Length(max=100)])
    last_name = StringField(_l("Last name"), validators=[InputRequired(), Length(max=100)])
    job_title = StringField(_l("Job title"), validators=[Optional(), Length(max=100)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    business_justification = TextAreaField(_l("Business justification"), validators=[InputRequired(), Length(max=2000)],
                                           description=_l("Why you need access to this site."))
    submit = SubmitField(_l("Submit"))


class PrivilegeRequestForm(FlaskForm):
    wanted = SelectField(_l("Level you need"), choices=[], validate_choice=False, validators=[InputRequired()])
    business_justification = TextAreaField(_l("Business justification"), validators=[InputRequired(), Length(max=2000)])
    submit = SubmitField(_l("Submit"))


class RejectForm(FlaskForm):
    reason = RadioField(_l("Reason"), choices=[], validators=[InputRequired()])
    text = TextAreaField(_l("Explain (required for Other)"), validators=[Optional(), Length(max=2000)])
    submit = SubmitField(_l("Reject"))


class ApproveForm(FlaskForm):
    business_justification = TextAreaField(_l("Business justification"), validators=[Optional(), Length(max=2000)])
    role = RadioField(_l("Role"), choices=[SelectChoice("user", _l("User")),
                                           SelectChoice("secondary", _l("Secondary contact"))],
                      default="user", validators=[Optional()])
    profile_id = SelectField(_l("Access profile"), choices=[], validate_choice=False, validators=[Optional()])
    submit = SubmitField(_l("Approve"))


class SettingsForm(FlaskForm):
    first_name = StringField(_l("First name"), validators=[InputRequired(), Length(max=100)])
    last_name = StringField(_l("Last name"), validators=[InputRequired(), Length(max=100)])
    language = SelectField(_l("Language"), choices=[], validate_choice=False, validators=[Optional()])
    time_zone = SelectField(_l("Time zone"), choices=[], validate_choice=False, validators=[Optional()],
                            description=_l("Every time is shown to you, and mailed to you, in this time zone."))
    notification_email = EmailField(_l("Notification email"), validators=[Optional(), Length(max=254)],
                                    description=_l("Where Sitepass sends your mail; empty means your login email. "
                                                   "It is not a contact email and does not change with one."))
    access_requests = BooleanField(_l("New access requests for sites I approve"))
    privilege_changes = BooleanField(_l("Changes to my own access"))
    submit = SubmitField(_l("Save settings"))


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[InputRequired()],
                                     render_kw={"autocomplete": "current-password"})
    password = PasswordField(_l("New password"), validators=[InputRequired(), Length(max=PASSWORD_MAX_LENGTH)],
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("Repeat new password"),
                            validators=[InputRequired(), EqualTo("password", _l("The passwords do not match."))],
                            render_kw={"autocomplete": "new-password"})
    submit = SubmitField(_l("Change password"))


class EmailChangeForm(FlaskForm):
    new_email = EmailField(_l("New login email"), validators=[InputRequired(), Length(max=254)])
    # Its own id: the password form on the same page has a field of the same name.
    current_password = PasswordField(_l("Current password"), validators=[InputRequired()], id="email-current-password",
                                     render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Send confirmation link"))


class TransferForm(FlaskForm):
    nominee = SelectField(_l("New primary contact"), choices=[], validate_choice=False, validators=[InputRequired()])
    submit = SubmitField(_l("Transfer primary role"))


class RecoveryForm(FlaskForm):
    membership_id = SelectField(_l("Member to make primary"), choices=[], validate_choice=False, validators=[Optional()])
    email = EmailField(_l("Or invite this email as primary"), validators=[Optional(), Length(max=254)])
    justification = TextAreaField(_l("Justification"), validators=[InputRequired(), Length(max=2000)])
    submit = SubmitField(_l("Name new primary contact"))


class DocumentForm(FlaskForm):
    doc_type = SelectField(_l("Document type"), validators=[InputRequired(_l("Choose a document type."))],
                           choices=[SelectChoice("", _l("— choose a type —"))]
                           + [SelectChoice(key, label) for key, label in DOCUMENT_TYPE_LABELS.items()])
    file = FileField(_l("File"), validators=[FileRequired(_l("Choose a file to upload."))],
                     description=_l("PDF, PNG, JPEG, text, CSV, Word (.docx) or Excel (.xlsx), at most 10 MB."),
                     render_kw={"accept": ",".join(ACCEPTED_EXTENSIONS)})
    submit = SubmitField(_l("Upload"))


class WebhookForm(FlaskForm):
    """Add webhook endpoint (issue 16); the URL and the events are checked by models/webhook.py."""
    url = StringField(_l("URL"), description=_l("https:// and a public address; each event is POSTed here, signed."))
    events = SelectMultipleField(_l("Events"), choices=[SelectChoice(key, label) for key, label in WEBHOOK_EVENTS.items()],
                                 validate_choice=False)
    submit = SubmitField(_l("Add endpoint"))
