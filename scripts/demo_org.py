"""Seeds a moto server with the demo's Organization, and makes the demo's trouble and its fix.

    demo_org.py ENDPOINT seed STATE.json [--size demo|small|plain:N]
        demo:    OUs and 40 member accounts, two suspended, and a hand-made FederatedReadOnly
                 role in three Prod accounts (the demo's realistic failure)
        small:   the same story with 9 member accounts (the test command's short demo)
        plain:N  N member accounts in one OU, nothing suspended, no conflicts (benchmarks)
        e2e:     20 member accounts in Prod, three with the hand-made role, and 20 in Dev
                 without (state machine tests)
    demo_org.py ENDPOINT fix STATE.json STACK [ACCOUNT ...]
        the platform team removes those hand-made roles (or the given accounts' one)
    demo_org.py ENDPOINT conflict ACCOUNT ...
        somebody makes the FederatedReadOnly role by hand in these accounts
    demo_org.py ENDPOINT bucket NAME
        an S3 bucket for the serverless path's run records
    demo_org.py ENDPOINT get BUCKET KEY
        prints an object of a bucket (a run record, a report, a resume input)
    demo_org.py ENDPOINT new-account NAME
        a new member account, as Organizations' CreateAccount makes it; prints its ID
    demo_org.py ENDPOINT stacks STATE.json STACK [--ou NAME]
        prints {account: stack status} for the accounts (of one OU) that have the stack, read
        back inside each account through the role stackfleet deploys with
    demo_org.py ENDPOINT alarm NAME STATE
        a CloudWatch alarm in the caller's account (made if missing) set to OK, ALARM or
        INSUFFICIENT_DATA
    demo_org.py ENDPOINT secret ssm|secretsmanager NAME VALUE
        a secret in the caller's account: an SSM SecureString, or a Secrets Manager secret
    demo_org.py ENDPOINT parameters STATE.json STACK
        prints {account: {parameter: value}} of the stack in each account that has it, as
        DescribeStacks answers inside the account
    demo_org.py ENDPOINT template BUCKET KEY FILE
        uploads FILE to a versioned bucket (made if missing); prints its https URL
    demo_org.py ENDPOINT objects BUCKET
        prints {key: body} of every object (every version) of the bucket

Uses boto3, which moto brings along.
"""

import argparse
import json
from concurrent.futures import ThreadPoolExecutor

import boto3

REGION = "us-east-1"
CONFLICTS = 3


def client(endpoint, service, credentials=None):
    keys = credentials or {"AccessKeyId": "testing", "SecretAccessKey": "testing", "SessionToken": None}
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
    )


def inside(endpoint, account, service):
    """A client acting inside a member account, as stackfleet's deploy role would."""
    sts = client(endpoint, "sts")
    role = f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
    credentials = sts.assume_role(RoleArn=role, RoleSessionName="demo-setup")["Credentials"]
    return client(endpoint, service, credentials)


LAYOUTS = {
    "demo": [("Security", 4), ("Prod", 16), ("Dev", 12), ("Sandbox", 8)],
    "small": [("Security", 1), ("Prod", 4), ("Dev", 1), ("Sandbox", 3)],
    "e2e": [("Prod", 20), ("Dev", 20)],
}


def seed(endpoint, state_path, size):
    story = not size.startswith("plain:")
    layout = LAYOUTS[size] if story else [("Prod", int(size.split(":", 1)[1]))]
    org = client(endpoint, "organizations")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    ous = {}
    for name, parent in [("Security", None), ("Workloads", None), ("Prod", "Workloads"), ("Dev", "Workloads"), ("Sandbox", None)]:
        parent_id = ous[parent] if parent else root
        ous[name] = org.create_organizational_unit(ParentId=parent_id, Name=name)["OrganizationalUnit"]["Id"]
    accounts = []
    for ou, count in layout:
        for n in range(count):
            name = f"{ou.lower()}-{n + 1:02d}"
            status = org.create_account(AccountName=name, Email=f"aws+{name}@example.com")["CreateAccountStatus"]
            account = status["AccountId"]
            org.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ous[ou])
            org.tag_resource(ResourceId=account, Tags=[{"Key": "env", "Value": ou.lower()}])
            accounts.append({"id": account, "name": name, "ou": ou})
    suspended = [a["id"] for a in accounts if a["ou"] == "Sandbox"][-2:] if size in ("demo", "small") else []
    for account in suspended:
        org.close_account(AccountId=account)
    # Somebody once made a FederatedReadOnly role by hand in three Prod accounts: the template's
    # role of the same name cannot be created there.
    conflicts = [a["id"] for a in accounts if a["ou"] == "Prod"][:CONFLICTS] if story else []
    conflict(endpoint, conflicts)
    state = {"root": root, "ous": ous, "accounts": accounts, "suspended": suspended, "conflicts": conflicts}
    with open(state_path, "w") as out:
        json.dump(state, out, indent=2)
    print(f"  organization {root}: {len(accounts) + 1} accounts in {len(ous)} OUs, "
          f"{len(suspended)} suspended, a hand-made FederatedReadOnly role in {len(conflicts)}")


def conflict(endpoint, accounts):
    for account in accounts:
        inside(endpoint, account, "iam").create_role(
            RoleName="FederatedReadOnly",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
            Description="made by hand in 2019",
        )


def fix(endpoint, state_path, stack_name, accounts=None):
    with open(state_path) as source:
        state = json.load(source)
    accounts = accounts or state["conflicts"]
    for account in accounts:
        inside(endpoint, account, "iam").delete_role(RoleName="FederatedReadOnly")
        # moto leaves a stack whose CreateStack was refused in CREATE_IN_PROGRESS for ever
        # (CloudFormation would roll it back, and stackfleet would recreate it): clear it here.
        cloudformation = inside(endpoint, account, "cloudformation")
        cloudformation.delete_stack(StackName=stack_name)
    print(f"  removed the hand-made role from {len(accounts)} accounts")


def stacks(endpoint, state_path, stack_name, ou=None):
    """Which accounts have the stack, and in what status, read inside each account."""
    with open(state_path) as source:
        state = json.load(source)
    accounts = [a["id"] for a in state["accounts"] if ou is None or a["ou"] == ou]

    def status(account):
        # ListStacks, not DescribeStacks: moto cannot describe a stack whose create it refused
        # (it fails serialising its outputs) and leaves such a stack CREATE_IN_PROGRESS.
        pages = inside(endpoint, account, "cloudformation").get_paginator("list_stacks").paginate()
        found = [s["StackStatus"] for page in pages for s in page["StackSummaries"]
                 if s["StackName"] == stack_name and s["StackStatus"] != "DELETE_COMPLETE"]
        return found[0] if found else None

    with ThreadPoolExecutor(max_workers=8) as pool:
        found = dict(zip(accounts, pool.map(status, accounts)))
    print(json.dumps({account: status for account, status in found.items() if status is not None}))


def upload_template(endpoint, bucket, key, path):
    """Puts a template into a versioned bucket (made if missing), as the state machine needs."""
    s3 = client(endpoint, "s3")
    if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    with open(path, "rb") as body:
        put = s3.put_object(Bucket=bucket, Key=key, Body=body.read())
    return {"url": f"https://{bucket}.s3.us-east-1.amazonaws.com/{key}", "versionId": put["VersionId"]}


def alarm(endpoint, name, state_value):
    cloudwatch = client(endpoint, "cloudwatch")
    if not cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]:
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace="Demo",
            MetricName="Errors",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state_value, StateReason="set by the test")


def secret(endpoint, kind, name, value):
    if kind == "ssm":
        client(endpoint, "ssm").put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)
    else:
        client(endpoint, "secretsmanager").create_secret(Name=name, SecretString=value)


def parameters(endpoint, state_path, stack_name):
    with open(state_path) as source:
        accounts = [a["id"] for a in json.load(source)["accounts"]]

    def described(account):
        cloudformation = inside(endpoint, account, "cloudformation")
        try:
            stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        except Exception:  # no such stack here (or one moto cannot describe)
            return None
        return {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}

    with ThreadPoolExecutor(max_workers=8) as pool:
        found = dict(zip(accounts, pool.map(described, accounts)))
    print(json.dumps({account: found for account, found in found.items() if found is not None}))


def objects(endpoint, bucket):
    s3 = client(endpoint, "s3")
    found = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for version in page.get("Versions", []):
            body = s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])["Body"].read()
            found[f'{version["Key"]}#{version["VersionId"]}'] = body.decode(errors="replace")
    print(json.dumps(found))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("endpoint")
    actions = parser.add_subparsers(dest="action", required=True)
    seeding = actions.add_parser("seed")
    seeding.add_argument("state")
    seeding.add_argument("--size", default="demo")
    fixing = actions.add_parser("fix")
    fixing.add_argument("state")
    fixing.add_argument("stack")
    fixing.add_argument("accounts", nargs="*")
    conflicting = actions.add_parser("conflict")
    conflicting.add_argument("accounts", nargs="+")
    bucket = actions.add_parser("bucket")
    bucket.add_argument("name")
    joining = actions.add_parser("new-account")
    joining.add_argument("name")
    getting = actions.add_parser("get")
    getting.add_argument("bucket")
    getting.add_argument("key")
    reading = actions.add_parser("stacks")
    reading.add_argument("state")
    reading.add_argument("stack")
    reading.add_argument("--ou")
    uploading = actions.add_parser("template", help="upload a template to a versioned bucket; print its URL and version")
    uploading.add_argument("bucket")
    uploading.add_argument("key")
    uploading.add_argument("file")
    alarming = actions.add_parser("alarm")
    alarming.add_argument("name")
    alarming.add_argument("state", choices=["OK", "ALARM", "INSUFFICIENT_DATA"])
    keeping = actions.add_parser("secret")
    keeping.add_argument("kind", choices=["ssm", "secretsmanager"])
    keeping.add_argument("name")
    keeping.add_argument("value")
    described = actions.add_parser("parameters")
    described.add_argument("state")
    described.add_argument("stack")
    listing = actions.add_parser("objects")
    listing.add_argument("bucket")
    putting = actions.add_parser("put", help="write BODY to KEY of BUCKET (as `stackfleet approve` writes an approval)")
    putting.add_argument("bucket")
    putting.add_argument("key")
    putting.add_argument("body")
    args = parser.parse_args()
    if args.action == "seed":
        if args.size not in LAYOUTS and not args.size.startswith("plain:"):
            parser.error(f"--size {args.size}: use demo, small or plain:N")
        seed(args.endpoint, args.state, args.size)
    elif args.action == "fix":
        fix(args.endpoint, args.state, args.stack, args.accounts)
    elif args.action == "conflict":
        conflict(args.endpoint, args.accounts)
    elif args.action == "bucket":
        client(args.endpoint, "s3").create_bucket(Bucket=args.name)
    elif args.action == "get":
        body = client(args.endpoint, "s3").get_object(Bucket=args.bucket, Key=args.key)["Body"].read()
        print(body.decode())
    elif args.action == "stacks":
        stacks(args.endpoint, args.state, args.stack, args.ou)
    elif args.action == "secret":
        secret(args.endpoint, args.kind, args.name, args.value)
    elif args.action == "parameters":
        parameters(args.endpoint, args.state, args.stack)
    elif args.action == "template":
        print(json.dumps(upload_template(args.endpoint, args.bucket, args.key, args.file)))
    elif args.action == "objects":
        objects(args.endpoint, args.bucket)
    elif args.action == "put":
        client(args.endpoint, "s3").put_object(Bucket=args.bucket, Key=args.key, Body=args.body.encode())
    elif args.action == "alarm":
        alarm(args.endpoint, args.name, args.state)
    else:
        organizations = client(args.endpoint, "organizations")
        status = organizations.create_account(AccountName=args.name, Email=f"aws+{args.name}@example.com")
        print(status["CreateAccountStatus"]["AccountId"])
