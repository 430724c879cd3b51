import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { Stackfleet, StackfleetProps } from './stackfleet';

export interface StackfleetStackProps extends StackProps {
  readonly fleet: StackfleetProps;
}

/** One stackfleet, and what a pipeline or the CLI needs to know of it. */
export class StackfleetStack extends Stack {
  public readonly fleet: Stackfleet;

  constructor(scope: Construct, id: string, props: StackfleetStackProps) {
    super(scope, id, props);
    this.fleet = new Stackfleet(this, 'Fleet', props.fleet);
    new CfnOutput(this, 'StateMachineArn', {
      description: 'stackfleet start --state-machine-arn ...',
      value: this.fleet.stateMachine.stateMachineArn,
    });
    new CfnOutput(this, 'BucketName', {
      description: 'Run records and reports, under runs/<execution name>/',
      value: this.fleet.bucket.bucketName,
    });
    new CfnOutput(this, 'WorkerRoleArn', {
      description: "The principal every member account's deploy role trusts (aws:PrincipalArn)",
      value: this.fleet.workerRole.roleArn,
    });
    new CfnOutput(this, 'ListerRoleArn', {
      description: "A template bucket in another account lets it read (template-bucket.yaml's ReaderRoleArns)",
      value: this.fleet.lister.role!.roleArn,
    });
    if (this.fleet.operatorRole) {
      new CfnOutput(this, 'OperatorRoleArn', {
        description: 'Assumed by a pipeline or an operator to start, follow and report rollouts',
        value: this.fleet.operatorRole.roleArn,
      });
    }
    if (this.fleet.approverRole && this.fleet.approverRole !== this.fleet.operatorRole) {
      new CfnOutput(this, 'ApproverRoleArn', {
        description: "Assumed by whoever approves plan-first rollouts' plans (stackfleet approve)",
        value: this.fleet.approverRole.roleArn,
      });
    }
    new CfnOutput(this, 'AlarmTopicArn', {
      description: 'Failed, timed-out or aborted rollouts, and undelivered new-account events',
      value: this.fleet.alarmTopic.topicArn,
    });
  }
}
