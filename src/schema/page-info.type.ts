import { Field, ObjectType } from 'type-graphql';

/** Relay connection page info, shared by every connection in the schema. */
@ObjectType()
export class PageInfo {
  @Field()
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}
