"""The route table: read it side by side with openapi.yaml."""

from api.resources.ops import Docs, DocsAsset, Health, OpenApiSpec, Ready
from api.resources.questions import QuestionItem, QuestionList, QuestionRandom
from api.resources.topics import TagList, TopicItem, TopicList

V1 = "/api/v1"


def register_routes(api) -> None:
    api.add_resource(TopicList, f"{V1}/topics")
    api.add_resource(TopicItem, f"{V1}/topics/<string:slug>")
    api.add_resource(TagList, f"{V1}/tags")
    api.add_resource(QuestionList, f"{V1}/questions")
    api.add_resource(QuestionRandom, f"{V1}/questions/random")
    api.add_resource(QuestionItem, f"{V1}/questions/<int:question_id>")

    api.add_resource(Health, "/healthz")
    api.add_resource(Ready, "/readyz")
    api.add_resource(OpenApiSpec, "/openapi.yaml")
    api.add_resource(Docs, "/docs")
    api.add_resource(DocsAsset, "/docs/assets/<string:filename>")
