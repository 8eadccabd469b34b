import { Field, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { Verification } from './identity.type.js';

export enum RoleName {
  PATIENT = 'PATIENT',
  PRACTITIONER = 'PRACTITIONER',
  ORGANIZATION = 'ORGANIZATION',
  ANALYST = 'ANALYST',
  ADMIN = 'ADMIN',
}
registerEnumType(RoleName, { name: 'Role', description: 'What an account is in the health-record network' });

@ObjectType({ description: 'A registered identity: an Ethereum address with a role and an encryption key' })
export class Account {
  @Field({ description: 'EIP-55 checksummed Ethereum address' })
  address!: string;

  @Field(() => RoleName)
  role!: RoleName;

  @Field()
  displayName!: string;

  @Field({ description: 'Base64 X25519 public key records are encrypted to' })
  boxPublicKey!: string;

  @Field()
  registeredAt!: Date;

  @Field(() => String, { nullable: true, description: 'Transaction that registered the key on chain' })
  keyAnchorTx!: string | null;

  @Field(() => Verification, {
    description: 'Whether the role is attested on chain, by which organization, until when',
  })
  verification?: Verification;
}

@InputType({
  description: 'The fields a wallet signs to register; get the exact text from registrationMessage',
})
export class RegistrationInput {
  @Field()
  address!: string;

  @Field(() => RoleName)
  role!: RoleName;

  @Field()
  displayName!: string;

  @Field({ description: 'Base64 of the 32-byte X25519 (nacl.box) public key' })
  boxPublicKey!: string;

  @Field({ description: 'ISO 8601 time of signing; must be within 10 minutes of the node clock' })
  issuedAt!: string;
}

@ObjectType({ description: 'A Sign-In with Ethereum (EIP-4361) message to sign with personal_sign' })
export class Challenge {
  @Field()
  message!: string;

  @Field()
  nonce!: string;

  @Field()
  expiresAt!: Date;
}

@ObjectType()
export class Session {
  @Field({ description: 'Send as `Authorization: Bearer <token>`' })
  token!: string;

  @Field()
  expiresAt!: Date;

  @Field(() => Account)
  account!: Account;
}
