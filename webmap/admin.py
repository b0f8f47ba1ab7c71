"""Administration pages: the user list, adding a user, and a user's password or access (admins).

A new password or disabling a user ends every session of that user (see
:func:`webmap.accounts.set_password` and :func:`webmap.accounts.set_active`).
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from geo.errors import PetakotaError
from webmap import accounts
from webmap.auth import form_problems, problem_texts, start_session
from webmap.db import get_engine
from webmap.permissions import ForbiddenError, require_role

bp = Blueprint("admin", __name__, url_prefix="/admin")

ROLE_LABELS = {"admin": _l("Admin"), "perencana": _l("Perencana"),
               "tim_lapangan": _l("Tim lapangan"), "lurah": _l("Lurah"), "camat": _l("Camat")}


class UserForm(FlaskForm):
    """A new user: name, password, role and, by role, city / kelurahan / kecamatan codes."""

    username = StringField(_l("Nama pengguna"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Kata sandi"), validators=[DataRequired(), Length(max=1024)])
    role = SelectField(_l("Peran"), choices=[SelectChoice(value, label)
                                             for value, label in ROLE_LABELS.items()])
    city = StringField(_l("Kota"), validators=[Optional(), Length(max=16)])
    kelurahan = StringField(_l("Kelurahan"), validators=[Optional(), Length(max=20)])
    kecamatan = StringField(_l("Kecamatan"), validators=[Optional(), Length(max=16)])


class NewPasswordForm(FlaskForm):
    """A new password for an existing user."""

    username = StringField(_l("Nama pengguna"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Kata sandi baru"), validators=[DataRequired(), Length(max=1024)])


@bp.route("/users", methods=["GET", "POST"])
@require_role("admin")
def users():
    """List users; on POST create one (CSRF-checked), then come back to the list."""
    form = UserForm()
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return _page(form, problems=form_problems(form)), status
    try:
        user = accounts.create_user(
            get_engine(), username=form.username.data, password=form.password.data,
            role=form.role.data, city_kode=form.city.data or None,
            kelurahan_kode=form.kelurahan.data or None, kecamatan_kode=form.kecamatan.data or None)
    except PetakotaError as error:
        return _page(form, error=error.message, problems=problem_texts(error.problems)), 422
    flash(_("Pengguna %(name)s (%(role)s) dibuat.", name=user.username,
            role=ROLE_LABELS[user.role]))
    return redirect(url_for("admin.users"))


@bp.post("/users/kata-sandi")
@require_role("admin")
def set_password():
    """Give a user a new password; every session of that user ends (the admin's own stays)."""
    form = NewPasswordForm()
    if not form.validate_on_submit():
        return _page(UserForm(formdata=None), password_form=form,
                     password_problems=form_problems(form)), 422
    try:
        user = accounts.set_password(get_engine(), form.username.data, form.password.data)
    except PetakotaError as error:
        return _page(UserForm(formdata=None), password_form=form,
                     password_problems=problem_texts(error.problems) or [error.message]), 422
    if user.id == current_user.account.id:
        start_session(user)
    flash(_("Kata sandi %(name)s diganti; semua sesinya diakhiri.", name=user.username))
    return redirect(url_for("admin.users"))


@bp.post("/users/<username>/nonaktifkan")
@require_role("admin")
def disable(username: str):
    """Disable a user: no sign-in, every session ends, API tokens stop working.

    The CSRF token is checked for every POST by the app (:class:`webmap.auth._CSRFProtect`).
    """
    if accounts.normalize_username(username) == current_user.account.username:
        raise ForbiddenError("An admin cannot disable their own account.")
    user = accounts.set_active(get_engine(), username, False)
    flash(_("Pengguna %(name)s dinonaktifkan; semua sesinya diakhiri.", name=user.username))
    return redirect(url_for("admin.users"))


def _page(form: UserForm, *, error: str | None = None, problems: list[str] | None = None,
          password_form: NewPasswordForm | None = None,
          password_problems: list[str] | None = None) -> str:
    return render_template("admin_users.html", form=form, users=accounts.list_users(get_engine()),
                           error=error, problems=problems or [], role_labels=ROLE_LABELS,
                           min_password=accounts.MIN_PASSWORD_LENGTH,
                           password_form=password_form or NewPasswordForm(formdata=None),
                           password_problems=password_problems or [])
