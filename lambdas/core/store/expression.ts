/**
 * The one builder of DynamoDB update and condition expressions. Attribute names and values
 * always go through placeholders (names such as `quotaUsed@api1` or reserved words are
 * safe), and every condition clause has a name, so a write reads as the list of what it
 * assumes:
 *
 * @example
 * const x = new UpdateExpression();
 * x.when('same settings', `${x.name('version')} = ${x.value(3)}`);
 * x.when('room left', `${x.name('quotaUsed')} < ${x.value(10)}`);
 * x.setTo('quotaUsed', `${x.name('quotaUsed')} + ${x.value(1)}`);
 * client.send(new UpdateCommand({ TableName, Key, ...x.build(), ReturnValues: 'ALL_NEW' }));
 */
export class UpdateExpression {
  readonly #names = new Map<string, string>();
  readonly #values: Record<string, unknown> = {};
  readonly #sets: string[] = [];
  readonly #removes: string[] = [];
  readonly #conditions = new Map<string, string>();

  /** The placeholder of an attribute name. */
  name(attribute: string): string {
    let placeholder = this.#names.get(attribute);
    if (placeholder === undefined) {
      placeholder = `#a${this.#names.size}`;
      this.#names.set(attribute, placeholder);
    }
    return placeholder;
  }

  /** A placeholder bound to a value. */
  value(value: unknown): string {
    const placeholder = `:v${Object.keys(this.#values).length}`;
    this.#values[placeholder] = value;
    return placeholder;
  }

  /** `SET attribute = value`. */
  set(attribute: string, value: unknown): this {
    this.#sets.push(`${this.name(attribute)} = ${this.value(value)}`);
    return this;
  }

  /** `SET attribute = <expression>`, the expression built from this builder's placeholders. */
  setTo(attribute: string, expression: string): this {
    this.#sets.push(`${this.name(attribute)} = ${expression}`);
    return this;
  }

  /** `REMOVE attribute`. */
  remove(attribute: string): this {
    this.#removes.push(this.name(attribute));
    return this;
  }

  /** Adds a condition clause under a name that says what it guards; all clauses must hold. */
  when(label: string, clause: string): this {
    if (this.#conditions.has(label)) throw new Error(`condition "${label}" given twice`);
    this.#conditions.set(label, clause);
    return this;
  }

  /** The parameters of an UpdateItem (or, without sets, of a DeleteItem or PutItem condition). */
  build(): {
    UpdateExpression?: string;
    ConditionExpression?: string;
    ExpressionAttributeNames?: Record<string, string>;
    ExpressionAttributeValues?: Record<string, unknown>;
  } {
    const parts = [];
    if (this.#sets.length > 0) parts.push(`SET ${this.#sets.join(', ')}`);
    if (this.#removes.length > 0) parts.push(`REMOVE ${this.#removes.join(', ')}`);
    const names = Object.fromEntries([...this.#names].map(([attribute, placeholder]) => [placeholder, attribute]));
    return {
      ...(parts.length > 0 ? { UpdateExpression: parts.join(' ') } : {}),
      ...(this.#conditions.size > 0 ? { ConditionExpression: [...this.#conditions.values()].map((c) => `(${c})`).join(' AND ') } : {}),
      ...(this.#names.size > 0 ? { ExpressionAttributeNames: names } : {}),
      ...(Object.keys(this.#values).length > 0 ? { ExpressionAttributeValues: this.#values } : {}),
    };
  }
}
