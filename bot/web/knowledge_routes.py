"""The leads' knowledge API: articles (edit, lint, publish, history), "Try it", content gaps and per-article quality.

The routes only translate, like the desk's: HTTP in, one `LeadsKnowledge` call, JSON out. Reading is for
everyone signed in to the desk (agents look articles up and try questions); every change is for leads,
checked here (so an agent is refused before anything runs) and again in the services.
"""
from __future__ import annotations

from typing import Callable, Literal, Optional

from fastapi import Depends, FastAPI, Query, Response

from bot.knowledge.leads import LeadsKnowledge
from bot.web import knowledge_schemas as k
from bot.web.schemas import ErrorOut, IdPath, Ok
from bot.web.security import Caller

ERRORS: dict = {status: {"model": ErrorOut} for status in (400, 401, 403, 404, 409, 422, 503)}
Channel = Optional[Literal["website", "slack"]]
Period = Query(30, ge=1, le=366, description="the last N days")
ARTICLE_ID = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


def add_knowledge_routes(app: FastAPI, leads: Optional[LeadsKnowledge], caller: Callable, lead: Callable) -> None:
    """`leads` is None only when the app is built to print its OpenAPI document (no route runs then)."""
    service: LeadsKnowledge = leads  # type: ignore[assignment]
    read = {"tags": ["knowledge"], "responses": ERRORS}
    write = {"tags": ["knowledge", "leads"], "responses": ERRORS}

    # -- articles --------------------------------------------------------------------------------

    @app.get("/api/kb/articles", response_model=k.ArticleList, summary="Help articles, with lint counts, last editor and what needs attention",
             **read)
    def articles(q: str = Query("", max_length=200), category: Optional[str] = Query(None, max_length=80),
                 status: Optional[Literal["published", "draft", "unreadable"]] = Query(None),
                 tag: Optional[str] = Query(None, max_length=80), attention: bool = Query(False),
                 who: Caller = Depends(caller)) -> k.ArticleList:
        everything = service.articles()
        shown = service.articles(q, category, status, tag, attention) if (q or category or status or tag or attention) else everything
        return k.ArticleList(articles=[k.row_out(a) for a in shown],
                             categories=sorted({a.summary.category for a in everything if a.summary.category}),
                             tags=sorted({t for a in everything for t in a.summary.tags}))

    @app.get("/api/kb/articles/{article_id}", response_model=k.ArticleViewOut,
             summary="An article as the editor opens it: fields, the file's text, its version (etag) and lint findings", **read)
    def article(article_id: str, response: Response, who: Caller = Depends(caller)) -> k.ArticleViewOut:
        view = service.workspace.get(article_id)
        response.headers["ETag"] = f'"{view.etag}"'
        return k.view_out(view)

    @app.post("/api/kb/articles", response_model=k.SaveOut, status_code=201,
              summary="Create an article (a draft, or published at once); from a content gap, the gap is re-run", **write)
    def create(body: k.CreateArticleRequest, who: Caller = Depends(lead)) -> k.SaveOut:
        fix = service.create_article(who.agent, body.article.fields(), body.gap_id)
        return k.save_out(fix.saved, fix.recheck)

    @app.put("/api/kb/articles/{article_id}", response_model=k.SaveOut,
             summary="Save the article as edited, with the status chosen; 409 if the file changed since it was opened", **write)
    def save(article_id: str, body: k.SaveArticleRequest, who: Caller = Depends(lead)) -> k.SaveOut:
        return k.save_out(service.workspace.save(who.agent, article_id, body.article.fields(), body.etag))

    @app.post("/api/kb/articles/{article_id}/publish", response_model=k.SaveOut,
              summary="Publish the article as it is on disk (refused with the reasons when lint finds errors)", **write)
    def publish(article_id: str, body: k.EtagRequest, who: Caller = Depends(lead)) -> k.SaveOut:
        return k.save_out(service.workspace.set_status(who.agent, article_id, "published", body.etag))

    @app.post("/api/kb/articles/{article_id}/unpublish", response_model=k.SaveOut,
              summary="Make the article a draft again: the assistant stops answering from it", **write)
    def unpublish(article_id: str, body: k.EtagRequest, who: Caller = Depends(lead)) -> k.SaveOut:
        return k.save_out(service.workspace.set_status(who.agent, article_id, "draft", body.etag))

    @app.post("/api/kb/articles/{article_id}/delete", response_model=k.SaveOut,
              summary="Delete the article's file (its text stays in the history; revert brings it back)", **write)
    def delete(article_id: str, body: k.EtagRequest, who: Caller = Depends(lead)) -> k.SaveOut:
        return k.save_out(service.workspace.delete(who.agent, article_id, body.etag))

    @app.get("/api/kb/articles/{article_id}/history", response_model=k.RevisionList, summary="Every revision, newest first", **read)
    def history(article_id: str, who: Caller = Depends(caller)) -> k.RevisionList:
        return k.RevisionList(revisions=[k.revision_out(r) for r in service.workspace.history(article_id)])

    @app.get("/api/kb/revisions/{revision_id}", response_model=k.RevisionDetail,
             summary="A revision's whole text and its diff against the one before", **read)
    def revision(revision_id: IdPath, who: Caller = Depends(caller)) -> k.RevisionDetail:
        found, diff = service.workspace.revision(revision_id)
        return k.RevisionDetail(revision=k.revision_out(found), text=found.text, diff=diff)

    @app.post("/api/kb/articles/{article_id}/revert", response_model=k.SaveOut,
              summary="Bring back the article as it was in a revision (a deleted one too)", **write)
    def revert(article_id: str, body: k.RevertRequest, who: Caller = Depends(lead)) -> k.SaveOut:
        return k.save_out(service.workspace.revert(who.agent, article_id, body.revision_id, body.etag))

    @app.post("/api/kb/check", response_model=k.ProblemsOut, summary="Lint an article as edited, without saving it", **write)
    def check(body: k.CheckRequest, who: Caller = Depends(lead)) -> k.ProblemsOut:
        fields = body.article.fields()
        return k.ProblemsOut(problems=[k.problem_out(p) for p in service.workspace.check(fields, body.article_id)],
                             body_line=service.workspace.body_line(fields))

    @app.post("/api/kb/preview", response_model=k.PreviewOut,
              summary="The article's passages as the assistant would answer with each (nothing is saved)", **read)
    def preview(body: k.PreviewRequest, who: Caller = Depends(caller)) -> k.PreviewOut:
        return k.preview_out(service.workspace.preview(body.article.fields()))

    @app.post("/api/kb/try", response_model=k.TryOut,
              summary="What the assistant would do with a customer's question: the decision, passages and scores", **read)
    def try_it(body: k.TryRequest, who: Caller = Depends(caller)) -> k.TryOut:
        return k.TryOut(**service.try_question(body.question, body.k))

    @app.get("/api/kb/live", response_model=k.LiveOut,
             summary="Whether the running assistant answers from the newest index build", **read)
    def live(who: Caller = Depends(caller)) -> k.LiveOut:
        return k.live_out(service.workspace.live_status())

    # -- content gaps ----------------------------------------------------------------------------

    @app.get("/api/kb/gaps", response_model=k.GapList,
             summary="What customers asked that the help centre could not answer, grouped by meaning", **read)
    def gaps(days: int = Period, channel: Channel = Query(None), dismissed: bool = Query(False, description="the dismissed clusters instead"),
             who: Caller = Depends(caller)) -> k.GapList:
        return k.GapList(clusters=[k.gap_out(c) for c in service.gap_clusters(days, channel, dismissed)])

    @app.get("/api/kb/gaps/{cluster_id}", response_model=k.GapDetailOut,
             summary="A cluster's questions, the wordings fit for an article, and the closest articles", **read)
    def gap(cluster_id: IdPath, days: int = Period, who: Caller = Depends(caller)) -> k.GapDetailOut:
        return k.gap_detail_out(service.gap(cluster_id, days))

    @app.get("/api/kb/gaps/{cluster_id}/draft", response_model=k.DraftOut,
             summary="The fields of a new article pre-filled from the cluster (not saved)", **write)
    def gap_draft(cluster_id: IdPath, who: Caller = Depends(lead)) -> k.DraftOut:
        return k.DraftOut(article=k.article_out(service.draft_from_gap(cluster_id)))

    @app.post("/api/kb/gaps/{cluster_id}/dismiss", response_model=Ok,
              summary="Dismiss the cluster as out of scope (or bring it back with dismissed: false)", **write)
    def dismiss(cluster_id: IdPath, body: k.DismissRequest, who: Caller = Depends(lead)) -> Ok:
        service.dismiss(who.agent, cluster_id, body.dismissed)
        return Ok()

    @app.post("/api/kb/gaps/{cluster_id}/questions", response_model=k.SaveOut,
              summary="Add the cluster's wordings to an article's questions, then re-run the cluster", **write)
    def add_questions(cluster_id: IdPath, body: k.AddQuestionsRequest, who: Caller = Depends(lead)) -> k.SaveOut:
        fix = service.add_gap_questions(who.agent, cluster_id, body.article_id, body.questions, body.etag)
        return k.save_out(fix.saved, fix.recheck)

    @app.post("/api/kb/gaps/{cluster_id}/recheck", response_model=k.RecheckOut,
              summary="Run the cluster's questions through the live search again: how many would now be answered", **read)
    def recheck(cluster_id: IdPath, who: Caller = Depends(caller)) -> k.RecheckOut:
        return k.recheck_out(service.recheck(cluster_id))

    # -- per-article quality -------------------------------------------------------------------------

    @app.get("/api/kb/quality", response_model=k.QualityOut,
             summary="Per article over the period: times shown, 'Did this help?', handoffs after, flagged", **read)
    def quality(days: int = Period, channel: Channel = Query(None), who: Caller = Depends(caller)) -> k.QualityOut:
        return k.QualityOut(days=days, articles=[k.quality_row(q, row) for q, row in service.article_quality(days, channel)])
