import { Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';

/** Properties of {@link ContributorInsightsWidget}. */
export interface ContributorInsightsWidgetProps {
  /** The Contributor Insights rule's name. */
  readonly ruleName: string;
  readonly title: string;
  /**
   * Contributors shown.
   *
   * @default 10
   */
  readonly maxContributorCount?: number;
  /**
   * @default 12
   */
  readonly width?: number;
  /**
   * @default 6
   */
  readonly height?: number;
}

/**
 * A dashboard graph of a Contributor Insights rule's top contributors (the dashboard body's
 * `insightRule` metric widget, which CDK's widgets do not offer).
 */
export class ContributorInsightsWidget extends cloudwatch.ConcreteWidget {
  readonly #props: ContributorInsightsWidgetProps;
  readonly #region: string;

  constructor(scope: Construct, props: ContributorInsightsWidgetProps) {
    super(props.width ?? 12, props.height ?? 6);
    this.#props = props;
    this.#region = Stack.of(scope).region;
  }

  toJson(): unknown[] {
    return [
      {
        type: 'metric',
        width: this.width,
        height: this.height,
        x: this.x,
        y: this.y,
        properties: {
          title: this.#props.title,
          region: this.#region,
          view: 'timeSeries',
          stacked: false,
          period: 60,
          legend: { position: 'bottom' },
          insightRule: { maxContributorCount: this.#props.maxContributorCount ?? 10, orderBy: 'Sum', ruleName: this.#props.ruleName },
        },
      },
    ];
  }
}
