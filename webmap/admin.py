"""Administration pages: the user list and a form to add a user (admins only)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from geo.errors import PetakotaError
from webmap import accounts
from webmap.db import get_engine
from webmap.permissions import require_role

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


@bp.route("/users", methods=["GET", "POST"])
@require_role("admin")
def users():
    """List users; on POST create one (CSRF-checked), then come back to the list."""
    form = UserForm()
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        problems = [f"{form[name].label.text}: {', '.join(errors)}"
                    for name, errors in form.errors.items()]
        return _page(form, problems=problems), status
    try:
        user = accounts.create_user(
            get_engine(), username=form.username.data, password=form.password.data,
            role=form.role.data, city_kode=form.city.data or None,
            kelurahan_kode=form.kelurahan.data or None, kecamatan_kode=form.kecamatan.data or None)
    except PetakotaError as error:
        return _page(form, error=error.message, problems=[str(p) for p in error.problems]), 422
    flash(_("Pengguna %(name)s (%(role)s) dibuat.", name=user.username,
            role=ROLE_LABELS[user.role]))
    return redirect(url_for("admin.users"))


def _page(form: UserForm, *, error: str | None = None, problems: list[str] | None = None) -> str:
    return render_template("admin_users.html", form=form, users=accounts.list_users(get_engine()),
                           error=error, problems=problems or [], role_labels=ROLE_LABELS,
                           min_password=accounts.MIN_PASSWORD_LENGTH)
