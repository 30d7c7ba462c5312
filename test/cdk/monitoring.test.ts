import { Duration } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { afterEach, describe, expect, it } from 'vitest';
import { GatepassStack, type GatepassStackProps } from '../../lib/gatepass-stack.ts';
import { decisionLinePattern } from '../../lib/usage-aggregator.ts';
import { CDK_TEST_TIMEOUT, joinedText, logicalId, removeTestOutdirs, roleStatements, testApp } from './test-app.ts';

/** The stack's monitoring: dashboard, alarms, Contributor Insights, and the usage aggregator's wiring. */
function build(props: GatepassStackProps | ((stack: GatepassStack) => GatepassStackProps) = {}) {
  const app = testApp();
  let stack: GatepassStack;
  if (typeof props === 'function') {
    // Props that need a construct of the stack (a topic) are made in a scope of their own stack.
    const holder = new GatepassStack(app, 'Holder', { usage: false, monitoring: false });
    stack = new GatepassStack(app, 'Gatepass', props(holder));
  } else {
    stack = new GatepassStack(app, 'Gatepass', props);
  }
  return { stack, template: Template.fromStack(stack) };
}

interface Widget {
  type: string;
  properties: {
    title?: string;
    metrics?: unknown[][];
    insightRule?: { ruleName: string; maxContributorCount: number; orderBy: string };
    alarms?: string[];
    markdown?: string;
  };
}

/** The dashboard body as JSON, each `Ref` written `<Ref:X>` and each `Fn::GetAtt` `<GetAtt:X.Y>`. */
function widgetsOf(template: Template): Widget[] {
  const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  const [, parts] = dashboard!.Properties.DashboardBody['Fn::Join'] as [string, unknown[]];
  const text = parts
    .map((part) => {
      if (typeof part === 'string') return part;
      const { Ref, 'Fn::GetAtt': getAtt } = part as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
      return Ref ? `<Ref:${Ref}>` : `<GetAtt:${getAtt![0]}.${getAtt![1]}>`;
    })
    .join('');
  return (JSON.parse(text) as { widgets: Widget[] }).widgets;
}

function alarmsOf(template: Template): Record<string, Record<string, unknown>> {
  return Object.fromEntries(Object.entries(template.findResources('AWS::CloudWatch::Alarm')).map(([id, r]) => [id, r.Properties]));
}

describe('GatepassStack monitoring', { timeout: CDK_TEST_TIMEOUT }, () => {
  afterEach(removeTestOutdirs);

  it('synthesizes without warnings (no metric period overridden by a math expression)', () => {
    const { stack } = build();

    expect(Annotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
  });

  describe('the dashboard', () => {
    it('shows decisions by reason, latency percentiles, faults by kind, DynamoDB throttles and capacity, the hottest keys and the alarms', () => {
      const { stack, template } = build();
      const widgets = widgetsOf(template);
      const authorizer = `<Ref:${logicalId(stack.authorizer.function)}>`;
      const byTitle = (prefix: string) => {
        const found = widgets.find((w) => w.properties.title?.startsWith(prefix));
        expect(found, prefix).toBeDefined();
        return found!;
      };

      const decisions = JSON.stringify(byTitle('Decisions by reason').properties.metrics);
      expect(decisions).toContain(
        `SEARCH('{Gatepass,service,Outcome,Reason} MetricName=\\"Decisions\\" service=\\"${authorizer}\\"', 'Sum', 60)`,
      );

      const latency = byTitle('Authorizer latency').properties.metrics!;
      for (const p of ['p50', 'p90', 'p99']) {
        expect(latency).toContainEqual(['Gatepass', 'AuthorizerLatency', 'service', authorizer, expect.objectContaining({ stat: p })]);
      }

      expect(JSON.stringify(byTitle('Faults by kind').properties.metrics)).toContain('{Gatepass,service,Kind} MetricName=\\"Faults\\"');

      const throttles = JSON.stringify(byTitle('DynamoDB throttles').properties.metrics);
      const tableName = `<Ref:${logicalId(stack.sessions!.table)}>`;
      expect(throttles).toContain(JSON.stringify(['AWS/DynamoDB', 'ReadThrottleEvents', 'TableName', tableName]).slice(1, -1));
      expect(throttles).toContain(JSON.stringify(['AWS/DynamoDB', 'WriteThrottleEvents', 'TableName', tableName]).slice(1, -1));
      expect(throttles).toContain('"Gatepass","Throttles"');

      const capacity = JSON.stringify(byTitle('Session table consumed capacity').properties.metrics);
      expect(capacity).toContain('ConsumedReadCapacityUnits');
      expect(capacity).toContain('ConsumedWriteCapacityUnits');

      const hottest = byTitle('Hottest keys');
      expect(hottest.properties.insightRule).toEqual({
        maxContributorCount: 10,
        orderBy: 'Sum',
        ruleName: `<GetAtt:${stack.getLogicalId(stack.monitoring!.hottestKeys)}.RuleName>`,
      });

      expect(byTitle('Alarms').properties.alarms).toHaveLength(4);
    });
  });

  describe('the alarms', () => {
    it('fire on faults, DynamoDB throttling, p99 latency over 500 ms and usage aggregator errors, routed nowhere by default', () => {
      const { stack, template } = build();
      const alarms = Object.values(alarmsOf(template));
      const authorizer = { Ref: logicalId(stack.authorizer.function) };

      expect(alarms).toHaveLength(4);
      expect(alarms).toContainEqual(
        expect.objectContaining({
          Namespace: 'Gatepass',
          MetricName: 'Faults',
          Dimensions: [{ Name: 'service', Value: authorizer }],
          Statistic: 'Sum',
          Period: 300,
          Threshold: 0,
          ComparisonOperator: 'GreaterThanThreshold',
          TreatMissingData: 'notBreaching',
        }),
      );
      expect(alarms).toContainEqual(
        expect.objectContaining({
          Namespace: 'Gatepass',
          MetricName: 'AuthorizerLatency',
          ExtendedStatistic: 'p99',
          Period: 300,
          Threshold: 500,
        }),
      );
      const throttling = alarms.find((a) => Array.isArray(a.Metrics)) as {
        Metrics: Array<{ Id: string; Expression?: string; MetricStat?: { Metric: { MetricName: string } } }>;
      };
      expect(throttling.Metrics.find((m) => m.Expression)?.Expression).toBe('FILL(reads, 0) + FILL(writes, 0) + FILL(authorizer, 0)');
      expect(throttling.Metrics.flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric.MetricName] : [])).sort()).toEqual([
        'ReadThrottleEvents',
        'Throttles',
        'WriteThrottleEvents',
      ]);
      expect(alarms).toContainEqual(
        expect.objectContaining({
          Namespace: 'AWS/Lambda',
          MetricName: 'Errors',
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(stack.usage!.function) } }],
        }),
      );
      for (const alarm of alarms) {
        expect(alarm.AlarmActions).toBeUndefined();
        expect(alarm.OKActions).toBeUndefined();
      }
    });

    it('send ALARM and OK to the SNS topic given, with the latency threshold given', () => {
      const { template } = build((holder) => ({
        alarmTopic: sns.Topic.fromTopicArn(holder, 'Oncall', 'arn:aws:sns:us-east-1:123456789012:oncall'),
        latencyAlarmThreshold: Duration.millis(250),
      }));
      const alarms = Object.values(alarmsOf(template));

      expect(alarms).toHaveLength(4);
      for (const alarm of alarms) {
        expect(alarm.AlarmActions).toEqual(['arn:aws:sns:us-east-1:123456789012:oncall']);
        expect(alarm.OKActions).toEqual(['arn:aws:sns:us-east-1:123456789012:oncall']);
      }
      expect(alarms).toContainEqual(expect.objectContaining({ MetricName: 'AuthorizerLatency', Threshold: 250 }));
    });
  });

  describe('Contributor Insights', () => {
    it("is on for the session table, and a rule ranks key ids by decisions from the authorizer's log", () => {
      const { stack, template } = build();

      template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
        Replicas: [Match.objectLike({ ContributorInsightsSpecification: { Enabled: true } })],
      });
      const [rule] = Object.values(template.findResources('AWS::CloudWatch::InsightRule'));
      expect(rule!.Properties.RuleState).toBe('ENABLED');
      expect(JSON.parse(joinedText(rule!.Properties.RuleBody))).toEqual({
        Schema: { Name: 'CloudWatchLogRule', Version: 1 },
        LogGroupNames: [`<Ref:${logicalId(stack.authorizer.logGroup)}>`],
        LogFormat: 'JSON',
        Contribution: { Keys: ['$.keyId'], Filters: [{ Match: '$.day', IsPresent: true }] },
        AggregateOn: 'Count',
      });
    });
  });

  describe('the usage aggregator', () => {
    it("is subscribed to the authorizer's decision lines", () => {
      const { stack, template } = build();

      template.resourceCountIs('AWS::Logs::SubscriptionFilter', 1);
      template.hasResourceProperties('AWS::Logs::SubscriptionFilter', {
        LogGroupName: { Ref: logicalId(stack.authorizer.logGroup) },
        DestinationArn: { 'Fn::GetAtt': [logicalId(stack.usage!.function), 'Arn'] },
        FilterPattern: decisionLinePattern().logPatternString,
      });
      expect(decisionLinePattern().logPatternString).toBe('{ ($.keyId = "*") && ($.day = "*") }');
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        Principal: 'logs.amazonaws.com',
        FunctionName: { 'Fn::GetAtt': [logicalId(stack.usage!.function), 'Arn'] },
      });
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: { GATEPASS_TABLE_NAME: { Ref: logicalId(stack.sessions!.table) }, GATEPASS_USAGE_RETENTION_DAYS: '35' } },
      });
    });

    it('may only write usage items and batch markers, with UpdateItem and PutItem', () => {
      const { stack, template } = build();
      const statements = roleStatements(template, logicalId(stack.usage!.role));
      const dynamo = statements.filter((s) => s.actions.some((a) => a.startsWith('dynamodb:')));

      expect(dynamo).toEqual([
        { actions: ['dynamodb:UpdateItem', 'dynamodb:PutItem'], resources: [{ 'Fn::GetAtt': [logicalId(stack.sessions!.table), 'Arn'] }] },
      ]);
      const [policy] = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
        JSON.stringify(p.Properties.Roles).includes(logicalId(stack.usage!.role)),
      );
      expect(JSON.stringify(policy!.Properties.PolicyDocument)).toContain(
        JSON.stringify({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['usage#*', 'usagebatch#*'] } }),
      );
      expect(statements.flatMap((s) => s.actions).filter((a) => !a.startsWith('dynamodb:') && !a.startsWith('logs:'))).toEqual([]);
    });

    it('keeps usage as long as asked', () => {
      const { template } = build({ usageRetentionDays: 100 });

      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ GATEPASS_USAGE_RETENTION_DAYS: '100' }) },
      });
    });
  });

  it('leaves all of it out on request', () => {
    const { template } = build({ usage: false, monitoring: false });

    template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    template.resourceCountIs('AWS::CloudWatch::InsightRule', 0);
    template.resourceCountIs('AWS::Logs::SubscriptionFilter', 0);
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      Replicas: [Match.objectLike({ ContributorInsightsSpecification: { Enabled: false } })],
    });
  });
});
