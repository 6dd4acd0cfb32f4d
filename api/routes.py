"""The route table: read it side by side with openapi.yaml."""

from api.accounts import problems as account_problems  # noqa: F401  (registers its types)
from api.accounts.resources import Login, Logout, Me, Refresh, Register, UserItem, UserList
from api.bank import problems as bank_problems  # noqa: F401
from api.bank.resources import (
    DeletionList,
    QuestionItem,
    QuestionList,
    QuestionRandom,
    QuestionReports,
    ReportItem,
    ReportList,
    TagList,
    TopicItem,
    TopicList,
)
from api.bank.transfer.resources import QuestionExport, QuestionImport
from api.platform.operations import (
    Docs,
    DocsAsset,
    Health,
    OpenApiSpec,
    ProblemItem,
    ProblemList,
    Ready,
    Root,
)
from api.practice import problems as practice_problems  # noqa: F401
from api.practice.resources import (
    AttemptBatch,
    AttemptItem,
    AttemptList,
    MyStats,
    QuestionAttempts,
    QuestionStats,
    QuizFinish,
    QuizItem,
    QuizList,
    Review,
)

V1 = "/api/v1"


def register_routes(api) -> None:
    api.add_resource(TopicList, f"{V1}/topics")
    api.add_resource(TopicItem, f"{V1}/topics/<string:slug>")
    api.add_resource(TagList, f"{V1}/tags")
    api.add_resource(QuestionList, f"{V1}/questions")
    api.add_resource(QuestionRandom, f"{V1}/questions/random")
    api.add_resource(QuestionImport, f"{V1}/questions/import")
    api.add_resource(QuestionExport, f"{V1}/questions/export")
    api.add_resource(QuestionItem, f"{V1}/questions/<int:question_id>")
    api.add_resource(DeletionList, f"{V1}/deletions")
    api.add_resource(QuestionReports, f"{V1}/questions/<int:question_id>/reports")
    api.add_resource(ReportList, f"{V1}/reports")
    api.add_resource(ReportItem, f"{V1}/reports/<int:report_id>")
    api.add_resource(Register, f"{V1}/auth/register")
    api.add_resource(Login, f"{V1}/auth/login")
    api.add_resource(Refresh, f"{V1}/auth/refresh")
    api.add_resource(Logout, f"{V1}/auth/logout")
    api.add_resource(Me, f"{V1}/me")
    api.add_resource(MyStats, f"{V1}/me/stats")
    api.add_resource(QuestionAttempts, f"{V1}/questions/<int:question_id>/attempts")
    api.add_resource(QuestionStats, f"{V1}/questions/<int:question_id>/stats")
    api.add_resource(AttemptList, f"{V1}/attempts")
    api.add_resource(AttemptBatch, f"{V1}/attempts/batch")
    api.add_resource(AttemptItem, f"{V1}/attempts/<int:attempt_id>")
    api.add_resource(Review, f"{V1}/review")
    api.add_resource(QuizList, f"{V1}/quizzes")
    api.add_resource(QuizItem, f"{V1}/quizzes/<int:quiz_id>")
    api.add_resource(QuizFinish, f"{V1}/quizzes/<int:quiz_id>/finish")
    api.add_resource(UserList, f"{V1}/users")
    api.add_resource(UserItem, f"{V1}/users/<int:user_id>")

    api.add_resource(Root, "/")
    api.add_resource(Health, "/healthz")
    api.add_resource(Ready, "/readyz")
    api.add_resource(OpenApiSpec, "/openapi.yaml")
    api.add_resource(Docs, "/docs")
    api.add_resource(DocsAsset, "/docs/assets/<string:filename>")
    api.add_resource(ProblemList, "/problems")
    api.add_resource(ProblemItem, "/problems/<string:slug>")
