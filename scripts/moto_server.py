"""moto's server as stackfleet's tests and demo run it: the pinned moto[server], with one answer
made as AWS makes it.

ValidateTemplate: AWS answers the template's Parameters (NoEcho among them: the parameters that
stackfleet never writes out in plaintext, and that the state machine refuses in plaintext); moto
5.2.1 always answers an empty list. Here the list is filled from the template, body or S3 URL.

    python scripts/moto_server.py [moto.server's arguments]
"""

import json
import sys

import yaml
from moto.cloudformation import responses
from moto.cloudformation.utils import yaml_tag_constructor
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

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
