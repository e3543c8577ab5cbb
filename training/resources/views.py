"""Resource pages for organizations, the permission wording builder, and staff editing."""

from flask import Blueprint, Flask, abort, redirect, render_template, request, url_for
from flask_login import current_user

from training.drawn import mark_drawn, redrawn_when_changed, require_unchanged
from training.edge import carry_out, flashed_above
from training.resources import services
from training.resources.forms import PageForm, RestoreForm, WordingBuilderForm
from training.resources.markdown import render_markdown
from training.staff.auth import MANAGERS, role_required
from training.submissions.guard import once_per_submission

bp = Blueprint("resources", __name__)


def init_app(app: Flask) -> None:
    """Offer the ``markdown`` and ``sample_wording`` filters to templates."""
    app.add_template_filter(render_markdown, "markdown")
    app.add_template_filter(services.sample_wording, "sample_wording")


@bp.get("/resources/")
def index():
    """The list of resource pages."""
    pages = [services.get_page(slug) for slug in services.PAGES]
    return render_template("resources/index.html", pages=pages)


@bp.get("/resources/permission-wording/builder")
def wording_builder():
    """The permission wording builder: a sample wording with the organization's name."""
    form = WordingBuilderForm(request.args)
    wording = None
    if request.args and form.validate():
        wording = services.build_wording(
            form.organization.data, form.wording.data, form.duration.data
        )
    return render_template(
        "resources/builder.html",
        form=form,
        wording=wording,
        wording_html=services.wording_html(wording) if wording else None,
    )


@bp.get("/resources/<slug>")
def page(slug: str):
    """One resource page, as shipped or as staff edited it."""
    resource = services.get_page(slug)
    if resource is None:
        abort(404)
    return render_template("resources/page.html", page=resource, wordings=services.wordings())


@bp.route("/staff/resources/<slug>", methods=["GET", "POST"])
@role_required(*MANAGERS)
@once_per_submission
def edit(slug: str):
    """Staff's editor for a resource page."""
    resource = services.get_page(slug)
    if resource is None:
        abort(404)
    form = mark_drawn(PageForm(data={"title": resource.title, "body": resource.body}))

    def page(edit_form=form, status=200):
        return render_template(
            "resources/edit.html",
            page=services.get_page(slug),
            form=edit_form,
            restore_form=RestoreForm(),
        ), status

    def drawn_now() -> PageForm:
        now = services.get_page(slug)
        return PageForm(formdata=None, data={"title": now.title, "body": now.body})

    def change() -> None:
        require_unchanged(services.edited_page(slug), form, drawn_now, thing="page")
        services.save_page(slug, form.title.data, form.body.data, actor=current_user)

    if not form.validate_on_submit():
        return page()
    return carry_out(
        change,
        done=f"Saved “{form.title.data}”.",
        redirect_to=url_for("resources.page", slug=slug),
        refused=redrawn_when_changed(
            form, drawn_now, lambda now: page(now, 409), flashed_above(page)
        ),
    )


@bp.post("/staff/resources/<slug>/restore")
@role_required(*MANAGERS)
@once_per_submission
def restore(slug: str):
    """Drop staff's version, so the page shows its shipped text again."""
    if services.get_page(slug) is None:
        abort(404)
    if not RestoreForm().validate_on_submit():
        return redirect(url_for("resources.page", slug=slug), code=303)
    return carry_out(
        lambda: services.restore_default(slug, actor=current_user),
        done="The page shows its default text again.",
        redirect_to=url_for("resources.page", slug=slug),
    )
