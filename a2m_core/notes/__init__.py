"""The notes decoder kind: a plan of feeling cues, notes sampled under it, and a sampler.

    fused vector --ControlHead--> Plan (tempo, key, density, register, articulation,
                                        dynamics, instrument, texture)
                 --NoteModel----> notes (compact REMI-style event tokens, beats)
                 --Sampler------> wave (a SoundFont played, light room reverb)

The pieces live in ``score`` (notes, tokens, true controls, MIDI), ``plan`` (the cues a
person sees and pins), ``model`` (the two small networks) and ``sampler`` (the sound).
"""
