"""moto's server as stackfleet's tests and demo run it: the pinned moto[server], with one answer
made as AWS makes it.

ValidateTemplate: AWS answers the template's Parameters (NoEcho among them: the parameters that
stackfleet never writes out in plaintext, and that the state machine refuses in plaintext); moto
5.2.1 always answers an empty list. Here the list is filled from the template, body or S3 URL.

Stack events: AWS gives each the ClientRequestToken of the operation that caused it (how a
resumed run knows an operation it started); moto 5.2.1 gives none. Here the events an operation
writes carry its request's token, an executed change set's included.

LastUpdatedTime: AWS sets it on a stack at each update (an executed UPDATE change set too);
moto 5.2.1 never does. Here an update sets it, so that `apply` can tell that a stack moved
since its plan.

Throttling, for the tests of the state machine's concurrency: when STACKFLEET_MOTO_FAULTS names
a file, each AssumeRole first reads it, and while it holds {"AssumeRole": {"throttle": N}} with N
above 0, answers Throttling ("Rate exceeded", as STS does) and writes N - 1 back. A test writes
the file; moto needs no restart.

    python scripts/moto_server.py [moto.server's arguments]
"""

import json
import os
import sys
import threading

import yaml
from moto.cloudformation import models, responses
from moto.cloudformation.utils import yaml_tag_constructor
from moto.core.exceptions import ServiceException
from moto.core.utils import utcnow
from moto.sts import responses as sts_responses
from moto.server import main

_validate_template = responses.CloudFormationResponse.validate_template


def _declared(template):
    for key, declared in (template.get("Parameters") or {}).items():
        parameter = {
            "ParameterKey": key,
            "NoEcho": str(declared.get("NoEcho", False)).lower() == "true",
            "Description": declared.get("Description", ""),
        }
        if "Default" in declared:
            parameter["DefaultValue"] = str(declared["Default"])
        yield parameter


def validate_template(self):
    answer = _validate_template(self)
    body = self._get_param("TemplateBody")
    url = self._get_param("TemplateURL")
    if url:
        body = self._get_stack_from_s3_url(url)
    yaml.add_multi_constructor("", yaml_tag_constructor)
    try:
        template = yaml.load(body, Loader=yaml.Loader)
    except yaml.YAMLError:
        template = json.loads(body)
    answer.result["Parameters"] = list(_declared(template))
    return answer


responses.CloudFormationResponse.validate_template = validate_template

# The token of the request being answered, per server thread.
_request = threading.local()
_event_init = models.Event.__init__


def _event_with_token(self, *args, **kwargs):
    _event_init(self, *args, **kwargs)
    self.client_request_token = getattr(_request, "token", None)


def _carrying_token(answer):
    def answer_with_token(self):
        _request.token = self._get_param("ClientRequestToken")
        try:
            return answer(self)
        finally:
            _request.token = None

    return answer_with_token


models.Event.__init__ = _event_with_token
for _operation in ("create_stack", "update_stack", "delete_stack", "execute_change_set"):
    setattr(
        responses.CloudFormationResponse,
        _operation,
        _carrying_token(getattr(responses.CloudFormationResponse, _operation)),
    )

_stack_update = models.Stack.update


def _update_stamped(self, *args, **kwargs):
    _stack_update(self, *args, **kwargs)
    self.last_updated_time = utcnow()


models.Stack.update = _update_stamped
_execute_change_set = models.CloudFormationBackend.execute_change_set


def _execute_stamped(self, change_set_name, stack_name=None):
    _execute_change_set(self, change_set_name, stack_name)
    change_set = self.describe_change_set(change_set_name)
    if change_set.change_set_type == "UPDATE":
        self.stacks[change_set.stack_id].last_updated_time = utcnow()


models.CloudFormationBackend.execute_change_set = _execute_stamped


class _Throttling(ServiceException):
    code = "Throttling"
    message = "Rate exceeded"


_faults_lock = threading.Lock()
_assume_role = sts_responses.TokenResponse.assume_role


def _throttled(operation):
    path = os.environ.get("STACKFLEET_MOTO_FAULTS")
    if not path:
        return False
    with _faults_lock:
        try:
            with open(path, encoding="utf-8") as file:
                faults = json.load(file)
        except (OSError, ValueError):
            return False
        left = faults.get(operation, {}).get("throttle", 0)
        if left <= 0:
            return False
        faults[operation]["throttle"] = left - 1
        with open(path, "w", encoding="utf-8") as file:
            json.dump(faults, file)
        return True


def _assume_role_or_throttle(self):
    if _throttled("AssumeRole"):
        raise _Throttling()
    return _assume_role(self)


sts_responses.TokenResponse.assume_role = _assume_role_or_throttle

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
