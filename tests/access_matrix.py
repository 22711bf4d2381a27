"""The access-control matrix and the mass-assignment sweep, built from the OpenAPI schema.

Every operation of /api/schema/ that takes an id (a path parameter, or a `portfolio`, `order`,
`trade` or `position` query parameter or body field, or any uuid-formatted one) is an *id slot*.
The matrix tries each slot with another user's id while everything else in the request is the
caller's own and valid, and expects 404; the same request with the caller's own id must get past
the ownership check (anything but 404 and 5xx), which proves the request was well formed. A new
operation is covered as soon as it is in the schema: if its slot names a kind of object the
matrix has no id for, `id_slots` refuses to build, so nobody can forget it.

The builder is plain code over a schema dict and a `send` function, so tests/test_access_control.py
checks it against a planted leak without touching the real API.
"""
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# Path parameters naming shared market data (instruments), which belong to nobody.
PUBLIC_PATH_PARAMETERS = frozenset({"symbol", "underlying"})
# Query parameters and body fields that name one of the caller's own objects.
OWNED_FIELD_NAMES = frozenset({"portfolio", "order", "trade", "position"})
WRITE_METHODS = ("post", "put", "patch")


@dataclass(frozen=True)
class IdSlot:
    method: str
    template: str
    location: str  # "path", "query" or "body"
    name: str
    kind: str  # which kind of object the id names: a key of the worlds' id tables

    def __str__(self):
        return f"{self.method.upper()} {self.template} ({self.location} {self.name}: {self.kind})"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict
    body: dict | None


@dataclass(frozen=True)
class Answer:
    status: int
    body: object  # the parsed JSON, or None


class MissingIds(AssertionError):
    pass


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def path_kind(template: str, name: str) -> str:
    """The kind a path parameter names: the path before it, without /api and with the parameters
    before it blanked, so /api/journal/{entry_id}/attachments/{attachment_id} gives "journal" for
    entry_id and "journal/{}/attachments" for attachment_id."""
    before = template.split("{" + name + "}", 1)[0].strip("/")
    return re.sub(r"\{[^}]+\}", "{}", before.removeprefix("api/"))


def json_body_schema(schema: dict, operation: dict) -> dict | None:
    content = operation.get("requestBody", {}).get("content", {})
    body = content.get("application/json") or content.get("multipart/form-data")
    return None if body is None else _resolve(schema, body["schema"])


def _names_an_owned_object(name: str, field_schema: dict) -> bool:
    return name in OWNED_FIELD_NAMES or field_schema.get("format") == "uuid"


def id_slots(schema: dict, known_kinds) -> list[IdSlot]:
    """Every id slot of the schema. Raises MissingIds naming each slot whose kind is not in
    `known_kinds`: a new id-taking operation the matrix would otherwise skip."""
    slots = []
    for template, operations in schema["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", ()):
                name, location = parameter["name"], parameter["in"]
                if location == "path" and name not in PUBLIC_PATH_PARAMETERS:
                    slots.append(IdSlot(method, template, "path", name, path_kind(template, name)))
                elif location == "query" and _names_an_owned_object(name, parameter.get("schema", {})):
                    slots.append(IdSlot(method, template, "query", name, name))
            body = json_body_schema(schema, operation) or {}
            for name, field_schema in body.get("properties", {}).items():
                if _names_an_owned_object(name, _resolve(schema, field_schema)) and not field_schema.get("readOnly"):
                    slots.append(IdSlot(method, template, "body", name, name))
    missing = [slot for slot in slots if slot.kind not in known_kinds]
    if missing:
        raise MissingIds("These operations take an id the access-control matrix has none of; give each world "
                         "one (tests/test_access_control.py, World):\n" + "\n".join(map(str, missing)))
    return slots


def write_operations(schema: dict) -> list[tuple[str, str]]:
    """(method, template) of every operation that takes a JSON body."""
    return [(method, template) for template, operations in schema["paths"].items()
            for method, operation in operations.items()
            if method in WRITE_METHODS and "application/json" in operation.get("requestBody", {}).get("content", {})]


def request_for(slot: IdSlot, *, own: Mapping, foreign: Mapping, bodies: Mapping, queries: Mapping) -> Request:
    """The caller's valid request for the slot's operation, with `foreign`'s id in the slot. A path
    slot takes the whole path from `foreign` (an attachment is only reachable through its own
    entry); everything else is the caller's (`own`). `bodies` and `queries` map (method, template)
    to a function of an id table giving the rest of a valid request."""
    path_ids = foreign if slot.location == "path" else own
    path = re.sub(r"\{([^}]+)\}", lambda match: str(path_ids[path_kind(slot.template, match.group(1))]),
                  slot.template)
    key = (slot.method, slot.template)
    query = dict(queries[key](own)) if key in queries else {}
    body = dict(bodies[key](own)) if key in bodies else None
    if slot.location == "query":
        query[slot.name] = str(foreign[slot.kind])
    elif slot.location == "body":
        body[slot.name] = str(foreign[slot.kind])
    return Request(slot.method, path, query, body)


@dataclass(frozen=True)
class Finding:
    slot: IdSlot
    problem: str

    def __str__(self):
        return f"{self.slot}: {self.problem}"


def run_matrix(slots, *, send: Callable[[str, Request], Answer], world_of: Mapping, bodies: Mapping,
               queries: Mapping, state: Callable[[], object]) -> list[Finding]:
    """For each slot: the intruder with the victim's id must get 404 `not_found` and change
    nothing (`state()` before and after); the intruder with their own id must not get 404 or a 5xx
    (so the 404 came from ownership, not from a malformed request). `send(user, request)` sends as
    "victim" or "intruder" and must leave no trace of an accepted write (a rolled-back savepoint)."""
    findings = []
    for slot in slots:
        foreign = request_for(slot, own=world_of["intruder"], foreign=world_of["victim"], bodies=bodies,
                              queries=queries)
        before = state()
        answer = send("intruder", foreign)
        if answer.status != 404:
            findings.append(Finding(slot, f"another user's id answered {answer.status}: {answer.body!r:.300}"))
        elif not (isinstance(answer.body, dict) and answer.body.get("error", {}).get("code") == "not_found"):
            findings.append(Finding(slot, f"404 without the not_found error shape: {answer.body!r:.300}"))
        if state() != before:
            findings.append(Finding(slot, "another user's id changed stored data"))
        control = send("intruder", request_for(slot, own=world_of["intruder"], foreign=world_of["intruder"],
                                               bodies=bodies, queries=queries))
        if control.status == 404 or control.status >= 500:
            findings.append(Finding(slot, f"the caller's own id answered {control.status} "
                                          f"(the request is not a valid one): {control.body!r:.300}"))
    return findings


# Fields a client must never set, each with a value that would matter if it were applied.
MASS_ASSIGNMENT_FIELDS = {
    "id": "00000000-0000-4000-8000-000000000001", "pk": 1, "owner": 1, "owner_id": 1, "user": 1, "user_id": 1,
    "cash": "999999999", "equity": "999999999", "balance": "999999999", "balance_after": "999999999",
    "status": "filled", "filled_quantity": "1000", "average_fill_price": "0.01", "realized_pnl": "1000000",
    "fees_paid": "0", "created_at": "2000-01-01T00:00:00Z", "is_staff": True, "is_superuser": True,
    "archived_at": None, "cost_basis": "0", "margin": "0",
}


def mass_assignment_findings(*, schema: dict, send: Callable[[str, Request], Answer], operations, world_of: Mapping,
                             bodies: Mapping) -> list[str]:
    """For each write operation, the owner's valid body plus one field it must not set (one of
    MASS_ASSIGNMENT_FIELDS, or `portfolio` naming another user's portfolio where the operation does
    not take a portfolio): the answer must be 400 naming that field, or a 2xx that did not apply
    it (the answer does not carry the value sent). `operations` are (method, template) pairs."""
    findings = []
    for method, template in operations:
        operation = schema["paths"][template][method]
        documented = set((json_body_schema(schema, operation) or {}).get("properties", {}))
        own = world_of["victim"]
        path = re.sub(r"\{([^}]+)\}", lambda match: str(own[path_kind(template, match.group(1))]), template)
        injections = {name: value for name, value in MASS_ASSIGNMENT_FIELDS.items() if name not in documented}
        if "portfolio" not in documented:
            injections["portfolio"] = str(world_of["intruder"]["portfolio"])
        for name, value in injections.items():
            body = {**bodies[(method, template)](own), name: value}
            answer = send("victim", Request(method, path, {}, body))
            where = f"{method.upper()} {template} with {name}={value!r}"
            if answer.status == 400:
                field = answer.body.get("error", {}).get("field") if isinstance(answer.body, dict) else None
                if field != name:
                    findings.append(f"{where}: 400 for another reason ({answer.body!r:.200}); is the base body valid?")
            elif 200 <= answer.status < 300:
                if isinstance(answer.body, dict) and name in answer.body and answer.body[name] == value:
                    findings.append(f"{where}: accepted and applied ({answer.body!r:.200})")
            else:
                findings.append(f"{where}: answered {answer.status} ({answer.body!r:.200})")
    return findings
